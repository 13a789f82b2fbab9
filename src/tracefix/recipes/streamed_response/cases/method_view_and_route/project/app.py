import csv
import io

from flask import Flask
from flask import Response
from flask import request
from flask.views import MethodView

app = Flask(__name__)
ROWS = [("ann", 3), ("bob", 5), ("cid", 8)]


def rows_as_csv():
    """The report, row by row, as the client downloads it."""
    limit = int(request.args.get("limit", len(ROWS)))
    for row in ROWS[:limit]:
        out = io.StringIO()
        csv.writer(out).writerow(row)
        yield out.getvalue()


class ReportExport(MethodView):
    def get(self):
        return Response(rows_as_csv(), mimetype="text/csv")


@app.get("/report.csv")
def report():
    return Response(rows_as_csv(), mimetype="text/csv")


app.add_url_rule("/export/report.csv", view_func=ReportExport.as_view("report_export"))


if __name__ == "__main__":
    client = app.test_client()
    print(client.get("/export/report.csv?limit=2").get_data(as_text=True), end="")
    print(client.get("/report.csv?limit=2").get_data(as_text=True), end="")
