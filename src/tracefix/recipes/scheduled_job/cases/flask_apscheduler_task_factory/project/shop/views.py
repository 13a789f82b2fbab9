from flask import Blueprint
from flask import jsonify

from shop.extensions import db
from shop.models import Product

bp = Blueprint("shop", __name__)


@bp.get("/products")
def products():
    rows = db.session.scalars(db.select(Product)).all()
    return jsonify([{"name": p.name, "stock": p.stock} for p in rows])
