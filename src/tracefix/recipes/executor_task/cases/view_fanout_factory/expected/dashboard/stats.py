import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import Customer
from dashboard.models import Order

COUNTED = {"customers": Customer, "orders": Order}


def count_rows(app, model):
    """How many rows the model's table holds."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))
