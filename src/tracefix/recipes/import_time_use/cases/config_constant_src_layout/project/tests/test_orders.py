def test_order_notifies_the_admin(client):
    response = client.post("/orders/7")
    assert response.get_json() == {
        "from": "Shop <noreply@shop.test>",
        "to": "admin@shop.test",
        "subject": "New order #7",
    }
