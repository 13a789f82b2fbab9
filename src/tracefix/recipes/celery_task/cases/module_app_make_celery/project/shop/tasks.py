from shop import celery
from shop import db
from shop.models import Order


@celery.task()
def close_stale_orders():
    """Close every order still pending."""
    stale = Order.query.filter_by(status="pending").all()
    for order in stale:
        order.status = "closed"
    db.session.commit()
    return len(stale)
