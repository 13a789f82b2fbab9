import pytest

from shop import create_app
from shop import db as _db
from shop.models import User


@pytest.fixture
def app():
    _app = create_app({"TESTING": True})
    ctx = _app.test_request_context()
    ctx.push()
    yield _app
    ctx.pop()


@pytest.fixture
def db(app):
    with app.app_context():
        _db.create_all()
    yield _db
    with app.app_context():
        _db.drop_all()


@pytest.fixture
def user(db):
    return User(name="ada").save()
