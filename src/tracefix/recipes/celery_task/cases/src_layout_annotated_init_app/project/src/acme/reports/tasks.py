from celery import shared_task
from flask import current_app
from sqlalchemy import func
from sqlalchemy import select

from acme.reports.models import Sale
from acme.web.extensions import db


@shared_task(ignore_result=False)
def monthly_report(month: str) -> dict[str, str]:
    total = db.session.scalar(select(func.sum(Sale.amount)).where(Sale.month == month))
    return {
        "month": month,
        "total": str(total or 0),
        "currency": current_app.config["REPORT_CURRENCY"],
    }
