import pytest

from inventory.config import TestConfig
from inventory.web import create_app


@pytest.fixture
def client():
    return create_app(TestConfig).test_client()
