from ..services.reports import signup_report
from . import main


@main.route("/report")
def report():
    return signup_report(), 200, {"Content-Type": "text/plain"}
