import pytest

from app import app as flask_app
from models import db


@pytest.fixture
def client(tmp_path):
    flask_app.config.update(TESTING=True)
    with flask_app.app_context():
        db.create_all()
    return flask_app.test_client()
