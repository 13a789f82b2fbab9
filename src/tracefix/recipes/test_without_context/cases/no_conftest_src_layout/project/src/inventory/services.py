from inventory import db
from inventory.models import Item


def total_stock():
    return db.session.scalar(db.select(db.func.coalesce(db.func.sum(Item.stock), 0)))


def add_item(name, stock):
    item = Item(name=name, stock=stock)
    db.session.add(item)
    db.session.commit()
    return item
