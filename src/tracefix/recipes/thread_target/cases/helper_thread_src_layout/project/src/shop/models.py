from shop import db


class Order(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    item = db.Column(db.String(80), nullable=False)
    quantity = db.Column(db.Integer, nullable=False)
    receipt_sent = db.Column(db.Boolean, default=False, nullable=False)
