from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from flask import url_for

app = Flask(__name__)
scheduler = BackgroundScheduler()


@app.get("/invoices/<int:invoice_id>")
def invoice(invoice_id):
    return {"id": invoice_id}


@scheduler.scheduled_job("cron", id="remind_unpaid", hour=9)
def remind_unpaid():
    with app.app_context():
        link = url_for("invoice", invoice_id=1, _external=True)
        app.logger.info("reminder: %s", link)
