def test_stats_counts_every_table(client):
    response = client.get("/stats")
    assert response.get_json() == {"customers": 1, "orders": 2}
