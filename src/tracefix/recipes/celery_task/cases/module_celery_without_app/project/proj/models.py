from datetime import date

from proj.extensions import db


class Invoice(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    customer = db.Column(db.String(120), nullable=False)
    due = db.Column(db.Date, nullable=False, default=date.today)
    paid = db.Column(db.Boolean, nullable=False, default=False)
