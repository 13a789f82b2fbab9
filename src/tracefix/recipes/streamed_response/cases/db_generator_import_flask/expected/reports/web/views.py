import flask

from reports.streaming import invoice_rows

bp = flask.Blueprint("reports", __name__)


@bp.route("/invoices/<int:year>.csv")
def invoices(year):
    headers = {"Content-Disposition": f"attachment; filename=invoices-{year}.csv"}
    return flask.Response(
        flask.stream_with_context(invoice_rows(year)),
        mimetype="text/csv",
        headers=headers,
    )
