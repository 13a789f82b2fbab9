from myapp.app import create_app
from myapp.extensions import db
from myapp.user.models import User


class TestSettings:
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"


def test_members_are_listed():
    app = create_app(TestSettings)
    with app.app_context():
        db.session.add(User(username="ada", email="ada@example.com"))
        db.session.commit()
        assert app.test_client().get("/users/").get_json() == ["ada"]
