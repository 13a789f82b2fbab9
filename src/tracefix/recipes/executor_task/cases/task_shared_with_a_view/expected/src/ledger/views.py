from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint
from flask import current_app

from ledger.balances import recompute_balance
from ledger.models import Account
from ledger.models import db

bp = Blueprint("ledger", __name__)
pool = ThreadPoolExecutor(max_workers=4)


@bp.post("/accounts/<int:account_id>/recompute")
def recompute(account_id):
    return {"balance": recompute_balance(account_id)}


def in_app_context(app, task, /, *args, **kwargs):
    """Run ``task`` in an app context of ``app``: a thread pool's threads have none."""
    with app.app_context():
        return task(*args, **kwargs)


@bp.post("/accounts/recompute")
def recompute_all():
    ids = db.session.scalars(db.select(Account.id)).all()
    app = current_app._get_current_object()
    futures = [pool.submit(in_app_context, app, recompute_balance, account_id) for account_id in ids]
    return {"balances": [future.result() for future in futures]}
