from inventory.extensions import db
from inventory.models import Item


def test_items_by_sku(app, client):
    db.session.add_all([Item(sku="B-2", quantity=3), Item(sku="A-1", quantity=12)])
    db.session.commit()
    assert client.get("/items").get_json() == {"A-1": 12, "B-2": 3}
