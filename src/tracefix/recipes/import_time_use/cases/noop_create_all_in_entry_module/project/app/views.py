from flask import Blueprint, jsonify

from app import db
from app.models import Product

bp = Blueprint("products", __name__)


@bp.get("/products")
def list_products():
    products = db.session.scalars(db.select(Product).order_by(Product.name)).all()
    return jsonify([{"name": p.name, "price": p.price} for p in products])
