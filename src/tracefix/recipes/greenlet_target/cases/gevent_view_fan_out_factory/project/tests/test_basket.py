def test_basket_total(client):
    response = client.get("/basket?sku=tea&sku=mug")
    assert response.get_json() == {"total": 3.0, "currency": "EUR"}
