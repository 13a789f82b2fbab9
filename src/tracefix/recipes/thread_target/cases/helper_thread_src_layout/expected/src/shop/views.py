from threading import Thread

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from shop import db
from shop.models import Order
from shop.receipts import email_receipt

bp = Blueprint("orders", __name__)


def notify_customer(order):
    cc = current_app.config["RECEIPTS_CC"]
    Thread(
        target=email_receipt,
        args=[current_app._get_current_object(), order.id],
        kwargs={"copy_to": cc},
        daemon=True,
    ).start()


@bp.post("/orders")
def create_order():
    data = request.get_json()
    order = Order(item=data["item"], quantity=data["quantity"])
    db.session.add(order)
    db.session.commit()
    notify_customer(order)
    return jsonify(id=order.id), 201
