"""Download a year's invoices the way the accountant's browser does: python -m scripts.download_report 2025"""

import sys

from reports.models import Invoice
from reports.models import db
from reports.web import create_app

year = int(sys.argv[1])
app = create_app("config.DemoConfig")
with app.app_context():
    db.create_all()
    db.session.add_all(Invoice(year=year, amount=amount) for amount in (120, 80))
    db.session.commit()
print(app.test_client().get(f"/reports/invoices/{year}.csv").get_data(as_text=True), end="")
