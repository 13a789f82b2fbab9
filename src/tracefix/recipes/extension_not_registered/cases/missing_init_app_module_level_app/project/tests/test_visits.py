def test_each_request_is_counted(client):
    first = client.get("/").get_json()["visits"]
    assert client.get("/").get_json()["visits"] == first + 1
