from datetime import date

from app import db


class Book(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    published = db.Column(db.Date, default=date(2000, 1, 1))
