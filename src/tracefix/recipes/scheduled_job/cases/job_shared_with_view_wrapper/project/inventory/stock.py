from inventory import db
from inventory.models import Item


def release_reservations():
    """Give back stock held by carts that were never checked out."""
    for item in db.session.scalars(db.select(Item).where(Item.reserved > 0)):
        item.reserved = 0
    db.session.commit()
