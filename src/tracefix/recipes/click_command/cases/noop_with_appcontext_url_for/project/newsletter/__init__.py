import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///news.db")
    db.init_app(app)

    @app.get("/unsubscribe/<int:subscriber_id>")
    def unsubscribe(subscriber_id):
        return "unsubscribed"

    with app.app_context():
        from newsletter import models  # noqa: F401

        db.create_all()
        if db.session.get(models.Subscriber, 1) is None:
            db.session.add(models.Subscriber(id=1, email="ada@example.com"))
            db.session.commit()
    return app
