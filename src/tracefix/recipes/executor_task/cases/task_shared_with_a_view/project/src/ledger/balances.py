from ledger.models import Account
from ledger.models import Entry
from ledger.models import db


def recompute_balance(account_id):
    """Sum the account's entries into its balance."""
    account = db.session.get(Account, account_id)
    entries = db.session.scalars(db.select(Entry.amount).where(Entry.account_id == account_id))
    account.balance = sum(entries)
    db.session.commit()
    return account.balance
