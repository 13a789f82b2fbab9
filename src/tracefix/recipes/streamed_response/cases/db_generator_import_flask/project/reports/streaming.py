from reports.models import Invoice
from reports.models import db


def invoice_rows(year):
    """CSV lines of a year's invoices, fetched a page at a time."""
    yield "id,amount\n"
    query = db.select(Invoice).where(Invoice.year == year).order_by(Invoice.id)
    for invoice in db.session.scalars(query.execution_options(yield_per=500)):
        yield f"{invoice.id},{invoice.amount}\n"
