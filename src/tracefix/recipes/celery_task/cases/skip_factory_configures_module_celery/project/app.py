import os

from celery import Celery
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
celery = Celery(
    __name__,
    broker=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "redis://localhost:6379/0"),
    include=["tasks"],
)


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", "sqlite:///subscriptions.db"),
        CELERY={"task_ignore_result": False},
    )
    if config is not None:
        app.config.update(config)
    db.init_app(app)
    celery.conf.update(app.config["CELERY"])

    import models  # noqa: F401

    with app.app_context():
        db.create_all()
    return app
