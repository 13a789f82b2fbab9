from reports.extensions import db
from reports.extensions import scheduler
from reports.models import Report


@scheduler.scheduled_job("cron", id="daily_report", hour=7)
def daily_report():
    db.session.add(Report(title="daily"))
    db.session.commit()
