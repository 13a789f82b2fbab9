from flask import Blueprint, jsonify, request

from shop.web import mail

bp = Blueprint("orders", __name__)


@bp.post("/orders/<int:order_id>")
def place_order(order_id):
    return jsonify(mail.order_notice(order_id))


@bp.post("/contact")
def contact():
    return jsonify(mail.contact_notice(request.form["email"], request.form["text"]))
