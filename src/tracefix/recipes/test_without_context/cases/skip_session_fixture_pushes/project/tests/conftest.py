import pytest

from ledger import create_app
from ledger import db


@pytest.fixture(scope="session")
def app():
    app = create_app({"TESTING": True})
    with app.app_context():
        db.create_all()
        yield app
