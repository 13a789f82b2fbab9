from flask import Blueprint
from flask import current_app
from flask import jsonify

from dashboard.extensions import executor
from dashboard.stats import COUNTED
from dashboard.stats import count_rows

bp = Blueprint("dashboard", __name__)


@bp.get("/stats")
def stats():
    app = current_app._get_current_object()
    futures = {
        name: executor.submit(count_rows, app, model) for name, model in COUNTED.items()
    }
    return jsonify({name: future.result() for name, future in futures.items()})
