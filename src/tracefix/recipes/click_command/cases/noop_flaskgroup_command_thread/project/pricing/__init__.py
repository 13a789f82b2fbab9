import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///prices.db")
    db.init_app(app)
    with app.app_context():
        from pricing import models  # noqa: F401

        db.create_all()
    return app
