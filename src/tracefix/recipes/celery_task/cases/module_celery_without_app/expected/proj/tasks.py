from datetime import date

from flask import current_app

from proj.celery_app import celery
from proj.extensions import db
from proj.models import Invoice
from proj.web import app


@celery.task(bind=True, max_retries=3)
def send_invoice_reminders(self):
    """Remind every customer with an overdue invoice."""
    with app.app_context():
        overdue = db.session.scalars(
            db.select(Invoice).where(Invoice.paid.is_(False), Invoice.due < date.today())
        ).all()
        for invoice in overdue:
            current_app.logger.info("reminding %s", invoice.customer)
        return len(overdue)
