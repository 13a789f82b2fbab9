from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint

from ledger.balances import recompute_balance
from ledger.models import Account
from ledger.models import db

bp = Blueprint("ledger", __name__)
pool = ThreadPoolExecutor(max_workers=4)


@bp.post("/accounts/<int:account_id>/recompute")
def recompute(account_id):
    return {"balance": recompute_balance(account_id)}


@bp.post("/accounts/recompute")
def recompute_all():
    ids = db.session.scalars(db.select(Account.id)).all()
    futures = [pool.submit(recompute_balance, account_id) for account_id in ids]
    return {"balances": [future.result() for future in futures]}
