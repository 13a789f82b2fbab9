from invoices import create_app


def test_invoice_includes_vat():
    client = create_app({"TESTING": True}).test_client()
    response = client.get("/invoices/7?net=100")
    assert response.get_json() == {"invoice": "Acme Ltd invoice 7: 120.00"}
