from app import create_app
from config import TestingConfig


def test_add_and_list_notes():
    client = create_app(TestingConfig).test_client()
    assert client.post("/notes", json={"text": "buy milk"}).status_code == 201
    assert client.get("/notes").get_json() == ["buy milk"]
