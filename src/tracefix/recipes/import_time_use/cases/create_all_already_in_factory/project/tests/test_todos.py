from app import create_app


class TestConfig:
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"


def test_add_and_list():
    client = create_app(TestConfig).test_client()
    assert client.post("/todos", json={"title": "milk"}).status_code == 201
    assert client.get("/todos").get_json() == ["milk"]
