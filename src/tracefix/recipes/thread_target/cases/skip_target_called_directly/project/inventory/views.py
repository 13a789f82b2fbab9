import threading

from flask import Blueprint
from flask import jsonify

from inventory import db
from inventory.models import Item
from inventory.stock import restock

bp = Blueprint("items", __name__)


@bp.post("/items/<int:item_id>/restock")
def restock_now(item_id):
    return jsonify(stock=restock(item_id, 10))


@bp.post("/items/<int:item_id>/restock-later")
def restock_later(item_id):
    threading.Thread(target=restock, args=(item_id, 10)).start()
    return "", 202


@bp.post("/items")
def add_item():
    item = Item(name="widget")
    db.session.add(item)
    db.session.commit()
    return jsonify(id=item.id), 201
