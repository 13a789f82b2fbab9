from flask import Blueprint
from flask import Response
from flask import request
from flask import stream_with_context

from orders import db
from orders.models import Order

bp = Blueprint("export", __name__)


@bp.get("/orders.csv")
def export_orders():
    """Every order with the requested status, streamed: there may be millions."""
    status = request.args.get("status", "paid")

    def generate():
        yield "id,total\n"
        query = db.select(Order).where(Order.status == status).order_by(Order.id)
        separator = request.args.get("sep", ",")
        for order in db.session.scalars(query):
            yield f"{order.id}{separator}{order.total}\n"

    return Response(stream_with_context(generate()), mimetype="text/csv")
