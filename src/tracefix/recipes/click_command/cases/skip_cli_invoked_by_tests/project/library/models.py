from library import db


class Loan(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    book = db.Column(db.String(200), nullable=False)
    returned = db.Column(db.Boolean, nullable=False, default=False)
