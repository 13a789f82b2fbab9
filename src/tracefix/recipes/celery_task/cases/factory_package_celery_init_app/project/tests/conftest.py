import pytest

from flaskr import create_app
from flaskr import db

EAGER_CELERY = {
    "broker_url": "memory://",
    "result_backend": "cache+memory://",
    "task_always_eager": True,
    "task_eager_propagates": True,
}


@pytest.fixture
def app():
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "CELERY": EAGER_CELERY}
    )
    with app.app_context():
        from flaskr import models  # noqa: F401

        db.create_all()
    yield app


@pytest.fixture
def client(app):
    return app.test_client()
