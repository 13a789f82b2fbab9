import threading

from flask import Blueprint
from flask import jsonify

from shop.reports import build_report

bp = Blueprint("reports", __name__)


@bp.post("/reports/<kind>")
def queue_report(kind):
    threading.Thread(target=lambda: build_report(kind), daemon=True).start()
    return jsonify(queued=kind), 202
