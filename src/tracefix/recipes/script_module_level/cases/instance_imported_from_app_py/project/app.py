import os

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///library.db")
db = SQLAlchemy(app)


@app.route("/books")
def books():
    from models import Book

    titles = db.session.scalars(db.select(Book.title).order_by(Book.title))
    return jsonify(list(titles))
