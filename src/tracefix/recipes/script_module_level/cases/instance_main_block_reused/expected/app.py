from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///notes.db"
db = SQLAlchemy(app)


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(200), nullable=False)


@app.route("/")
def index():
    return jsonify(status="ok")


@app.route("/notes")
def notes():
    return jsonify([note.text for note in db.session.scalars(db.select(Note))])


if __name__ == "__main__":
    with app.app_context():
        # First run: create the tables.
        db.create_all()
        print("database ready")
