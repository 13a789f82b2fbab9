from app import db


class Search(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    term = db.Column(db.String(200), nullable=False)
    agent = db.Column(db.String(200))
