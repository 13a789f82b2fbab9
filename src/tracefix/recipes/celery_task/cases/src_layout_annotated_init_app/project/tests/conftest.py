import pytest

from acme.config import TestConfig
from acme.web import create_app
from acme.web.extensions import db


@pytest.fixture
def app():
    app = create_app(TestConfig)
    with app.app_context():
        db.create_all()
    yield app
