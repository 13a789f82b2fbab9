from newsletter import db
from newsletter.models import Digest
from newsletter.models import Subscriber


def send_weekly_digest():
    recipients = db.session.scalars(db.select(Subscriber)).all()
    # the mail itself goes out through the outbox table's relay
    db.session.add(Digest(recipients=len(recipients)))
    db.session.commit()
