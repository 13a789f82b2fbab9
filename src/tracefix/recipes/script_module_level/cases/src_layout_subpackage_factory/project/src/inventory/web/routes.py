from flask import Blueprint, jsonify

from inventory.extensions import db
from inventory.models import Item

bp = Blueprint("items", __name__)


@bp.get("/items")
def items():
    rows = db.session.scalars(db.select(Item).order_by(Item.sku))
    return jsonify({item.sku: item.quantity for item in rows})
