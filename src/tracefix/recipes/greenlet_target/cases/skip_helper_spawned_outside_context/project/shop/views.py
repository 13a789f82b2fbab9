from flask import Blueprint
from flask import request

from shop.prices import total_price

bp = Blueprint("shop", __name__)


@bp.get("/basket")
def basket():
    return {"total": total_price(request.args.getlist("sku"))}
