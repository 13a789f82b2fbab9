from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Visit(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    path = db.Column(db.String(200), nullable=False)
