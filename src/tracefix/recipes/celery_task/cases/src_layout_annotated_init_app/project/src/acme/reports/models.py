from acme.web.extensions import db


class Sale(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    month = db.Column(db.String(7), nullable=False, index=True)
    amount = db.Column(db.Numeric(10, 2), nullable=False)
