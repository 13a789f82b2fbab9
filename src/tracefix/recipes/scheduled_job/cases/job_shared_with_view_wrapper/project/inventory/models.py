from inventory import db


class Item(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    reserved = db.Column(db.Integer, nullable=False, default=0)
