from flask import current_app

from shop import db
from shop.models import Order


def email_receipt(app, order_id, *, copy_to=None):
    with app.app_context():
        order = db.session.get(Order, order_id)
        current_app.logger.info("receipt for order %s (cc %s)", order.id, copy_to)
        order.receipt_sent = True
        db.session.commit()
