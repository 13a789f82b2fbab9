import pytest

from storefront import create_app


@pytest.fixture
def client():
    app = create_app({"TESTING": True, "PRICES": {"tea": 1.0, "mug": 2.0}})
    return app.test_client()
