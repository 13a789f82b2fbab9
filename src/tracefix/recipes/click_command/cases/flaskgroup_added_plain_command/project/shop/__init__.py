import os

from flask import Flask

from shop.extensions import db


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///shop.db")
    db.init_app(app)

    from shop import models  # noqa: F401

    with app.app_context():
        db.create_all()
    return app
