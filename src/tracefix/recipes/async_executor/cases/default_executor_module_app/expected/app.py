import asyncio

from flask import Flask
from flask import request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///sales.db"
db = SQLAlchemy(app)


class Sale(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    month = db.Column(db.String(7), nullable=False)
    amount = db.Column(db.Integer, nullable=False)


with app.app_context():
    db.create_all()


def monthly_total(month):
    """The slow part: the sales table is big, so it runs off the event loop."""
    sales = db.session.scalars(db.select(Sale).where(Sale.month == month))
    return sum(sale.amount for sale in sales)


@app.get("/report")
async def report():
    month = request.args["month"]
    # keep the event loop free while the query runs
    total = await asyncio.to_thread(monthly_total, month)
    return {"month": month, "total": total}
