import pytest

from helpdesk.config import TestConfig
from helpdesk.models import Notification
from helpdesk.models import Ticket
from helpdesk.models import db
from helpdesk.web import create_app


@pytest.fixture
def app():
    app = create_app(TestConfig)
    with app.app_context():
        db.create_all()
        db.session.add(Ticket(id=1, title="Printer", watchers="ada,bob"))
        db.session.commit()
    return app


def test_rename_notifies_the_other_watchers(app):
    response = app.test_client().post(
        "/tickets/1/title", data={"title": "Printer on fire"}, headers={"X-Agent": "ada"}
    )
    assert response.get_json() == {"notified": 1}
    with app.app_context():
        assert [n.recipient for n in db.session.scalars(db.select(Notification))] == ["bob"]
