from inventory import db
from inventory.models import Item


def restock(item_id, amount):
    item = db.session.get(Item, item_id)
    item.stock += amount
    db.session.commit()
    return item.stock
