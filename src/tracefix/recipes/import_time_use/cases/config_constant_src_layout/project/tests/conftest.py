import pytest

from shop.config import TestConfig
from shop.web import create_app


@pytest.fixture
def client():
    return create_app(TestConfig).test_client()
