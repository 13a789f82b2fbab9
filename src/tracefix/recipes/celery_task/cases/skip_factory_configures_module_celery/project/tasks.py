from datetime import date

from app import celery
from app import db
from models import Subscription


@celery.task
def expire_subscriptions():
    expired = db.session.scalars(
        db.select(Subscription).where(Subscription.active, Subscription.ends < date.today())
    ).all()
    for subscription in expired:
        subscription.active = False
    db.session.commit()
    return len(expired)
