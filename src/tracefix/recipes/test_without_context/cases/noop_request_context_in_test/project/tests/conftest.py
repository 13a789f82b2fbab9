import pytest

from search import create_app


@pytest.fixture
def app():
    return create_app({"TESTING": True})
