import pytest

from app import create_app


@pytest.fixture
def app():
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "CELERY": {"task_always_eager": True, "task_eager_propagates": True},
        }
    )
