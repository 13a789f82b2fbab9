from app import db
from app.models import User


def test_user_creation_within_context(app):
    user = User(name="Test")
    db.session.add(user)
    db.session.commit()
    assert user.id is not None


def test_list_users(client, app):
    db.session.add(User(name="Ada"))
    db.session.commit()
    response = client.get("/users")
    assert response.status_code == 200
    assert response.get_json() == ["Ada"]
