from library import db


class Book(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    indexed = db.Column(db.Boolean, default=False, nullable=False)
