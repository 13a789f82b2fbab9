from app import db
from app.models import User


def test_report_lists_newest_first(app, client):
    db.session.add_all([User(username="ada"), User(username="grace")])
    db.session.commit()
    assert client.get("/report").get_data(as_text=True) == "Latest signups\ngrace\nada"
