import threading

from flask import Blueprint

from reports.jobs import build_report

bp = Blueprint("reports", __name__)


@bp.post("/reports/<name>")
def start_report(name):
    threading.Thread(target=build_report, args=(name,)).start()
    return "", 202
