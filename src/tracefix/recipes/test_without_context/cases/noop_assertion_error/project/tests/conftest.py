import pytest

from shop import app as flask_app
from shop import db


@pytest.fixture
def app():
    with flask_app.app_context():
        db.create_all()
        yield flask_app
        db.drop_all()
