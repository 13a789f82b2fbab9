import threading

from flask import Blueprint
from flask import copy_current_request_context
from flask import jsonify

from shop.reports import build_report

bp = Blueprint("reports", __name__)


@bp.post("/reports/<kind>")
def queue_report(kind):
    threading.Thread(
        target=copy_current_request_context(lambda: build_report(kind)),
        daemon=True,
    ).start()
    return jsonify(queued=kind), 202
