from acme.reports.tasks import monthly_report


def test_report_of_a_month_without_sales(app):
    report = monthly_report.delay("2024-01").get()
    assert report == {"month": "2024-01", "total": "0", "currency": "EUR"}
