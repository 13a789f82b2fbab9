def test_no_items_yet(client):
    assert client.get("/items").get_json() == {}
