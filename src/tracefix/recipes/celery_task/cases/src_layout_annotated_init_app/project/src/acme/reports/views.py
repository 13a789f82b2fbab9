from flask import Blueprint

from acme.reports.tasks import monthly_report

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.post("/<month>")
def start_report(month: str) -> tuple[dict[str, str], int]:
    result = monthly_report.delay(month)
    return {"task_id": result.id}, 202
