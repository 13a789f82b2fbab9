import schedule
from flask import Flask
from flask import request

app = Flask(__name__)
app.config["REPORT_RECIPIENT"] = "ops@example.com"


def nightly_report():
    with app.app_context():
        # meant to reuse the dashboard's filters, but a job has no request to read them from
        days = int(request.args.get("days", 7))
        app.logger.info("report for the last %d days", days)


schedule.every().day.at("02:00").do(nightly_report)


@app.get("/report")
def report():
    return {"days": int(request.args.get("days", 7))}
