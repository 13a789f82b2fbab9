from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///sales.db"
db = SQLAlchemy(app)


class Sale(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    month = db.Column(db.String(7), nullable=False)
    amount = db.Column(db.Integer, nullable=False)


@app.get("/sales/<month>")
def month_total(month):
    total = db.session.scalar(db.select(db.func.sum(Sale.amount)).where(Sale.month == month))
    return {"total": total}
