from flask import Blueprint
from flask import request

from catalog.search import add_document

bp = Blueprint("catalog", __name__)


@bp.post("/products")
def add_product():
    add_document({"name": request.form["name"]})
    return "", 201
