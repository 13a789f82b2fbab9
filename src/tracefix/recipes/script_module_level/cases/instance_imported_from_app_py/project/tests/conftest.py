import os

import pytest

os.environ["DATABASE_URL"] = "sqlite://"

from app import app as flask_app  # noqa: E402
from app import db  # noqa: E402


@pytest.fixture
def app():
    with flask_app.app_context():
        db.create_all()
        yield flask_app
        db.drop_all()


@pytest.fixture
def client(app):
    return app.test_client()
