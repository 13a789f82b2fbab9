from flask import Blueprint, request

from .models import Item, database

bp = Blueprint("items", __name__)


@bp.post("/items")
def add_item():
    item = Item(name=request.json["name"], unit=request.json.get("unit", "piece"))
    database.session.add(item)
    database.session.commit()
    return {"id": item.id}, 201


@bp.get("/items")
def list_items():
    return [item.name for item in Item.query.order_by(Item.name)]
