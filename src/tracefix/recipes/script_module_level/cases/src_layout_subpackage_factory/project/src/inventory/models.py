from inventory.extensions import db


class Item(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    sku = db.Column(db.String(32), unique=True, nullable=False)
    quantity = db.Column(db.Integer, nullable=False, default=0)
