import gevent
from flask import Blueprint
from flask import current_app
from flask import request

from storefront.prices import fetch_price

bp = Blueprint("storefront", __name__)


@bp.get("/basket")
def basket():
    skus = request.args.getlist("sku")
    jobs = [gevent.spawn(fetch_price, sku) for sku in skus]
    gevent.joinall(jobs, raise_error=True)
    total = sum(job.value for job in jobs)
    return {"total": total, "currency": current_app.config["CURRENCY"]}
