from pricing import db


class Price(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    sku = db.Column(db.String(20), unique=True, nullable=False)
    cents = db.Column(db.Integer, nullable=False)
