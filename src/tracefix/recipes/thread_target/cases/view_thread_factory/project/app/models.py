from app import db


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120), unique=True, nullable=False)


class Message(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    to = db.Column(db.String(120), nullable=False)
    subject = db.Column(db.String(200), nullable=False)
