from notes.extensions import db


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.Text, nullable=False)
    trashed = db.Column(db.Boolean, nullable=False, default=False)
