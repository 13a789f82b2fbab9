"""Print each month's total, computing the months in parallel worker processes."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from app import Sale
from app import app
from app import db
from reports import month_total

MONTHS = ["2026-01", "2026-02", "2026-03"]

if __name__ == "__main__":
    with app.app_context():
        db.create_all()
        db.session.add_all(Sale(month=month, amount=10) for month in MONTHS)
        db.session.commit()
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
            for month, total in zip(MONTHS, pool.map(month_total, MONTHS)):
                print(month, total)
