import os

import pytest

os.environ["SESSIONS_DB"] = "sqlite://"

from app import app as flask_app  # noqa: E402


@pytest.fixture
def client():
    return flask_app.test_client()
