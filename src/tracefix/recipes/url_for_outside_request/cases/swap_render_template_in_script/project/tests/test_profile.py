from app import create_app


def test_profile():
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/users/ada").get_json() == {"name": "ada"}
