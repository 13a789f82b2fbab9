from inventory.web import create_app
from inventory.web.config import TestSettings


def test_add_then_list():
    client = create_app(TestSettings).test_client()
    assert client.post("/items", json={"name": "bolt", "unit": "box"}).status_code == 201
    assert client.get("/items").get_json() == ["bolt"]
