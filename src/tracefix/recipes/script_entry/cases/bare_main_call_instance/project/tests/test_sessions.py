from app import LoginSession, app, db


def test_count(client):
    with app.app_context():
        db.session.add(LoginSession(user="ada"))
        db.session.commit()
    assert client.get("/sessions/count").get_json() == 1
