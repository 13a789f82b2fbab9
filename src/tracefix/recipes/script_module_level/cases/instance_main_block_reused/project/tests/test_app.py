def test_index(client):
    assert client.get("/").get_json() == {"status": "ok"}
