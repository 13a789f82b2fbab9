from flask import Blueprint
from flask import jsonify

from shop.database import db
from shop.models import Product

blueprint = Blueprint("products", __name__)


@blueprint.get("/products")
def products():
    rows = db.session.scalars(db.select(Product).order_by(Product.name))
    return jsonify([row.name for row in rows])
