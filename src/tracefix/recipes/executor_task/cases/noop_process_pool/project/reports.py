from app import Sale
from app import db


def month_total(month):
    """The sales of one month. Heavy on big months: run in worker processes."""
    amounts = db.session.scalars(db.select(Sale.amount).where(Sale.month == month)).all()
    return sum(amounts)
