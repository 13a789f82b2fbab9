from flask import Blueprint
from flask import current_app

bp = Blueprint("billing", __name__)


@bp.get("/invoices/next")
def next_invoice():
    return {"number": f"{current_app.config['INVOICE_PREFIX']}-0001"}
