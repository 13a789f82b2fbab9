import os

from flask import Flask

from notes.extensions import db


def create_app(config_name="production"):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///notes.db")
    app.config["DEBUG"] = config_name == "development"
    db.init_app(app)
    with app.app_context():
        from notes import models  # noqa: F401

        db.create_all()
    return app
