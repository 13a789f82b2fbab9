import atexit

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///notes.db"
db = SQLAlchemy(app)


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(200), nullable=False)


with app.app_context():
    db.create_all()
    db.session.add(Note(text="draft"))

# commit whatever the last request left in the session
atexit.register(lambda: db.session.commit())
