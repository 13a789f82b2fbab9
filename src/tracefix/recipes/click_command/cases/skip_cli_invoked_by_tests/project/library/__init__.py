import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(test_config=None):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///library.db")
    if test_config:
        app.config.update(test_config)
    db.init_app(app)
    with app.app_context():
        from library import models  # noqa: F401

        db.create_all()
    return app
