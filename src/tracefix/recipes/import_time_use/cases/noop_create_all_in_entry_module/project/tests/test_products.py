from app import db
from app.models import Product


def test_list_products(client, app):
    db.session.add(Product(name="Tea", price=3))
    db.session.commit()
    response = client.get("/products")
    assert response.status_code == 200
    assert response.get_json() == [{"name": "Tea", "price": 3}]
