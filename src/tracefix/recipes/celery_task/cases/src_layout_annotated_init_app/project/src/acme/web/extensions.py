from celery import Celery
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def celery_init_app(app: Flask) -> Celery:
    """Make the Celery app from the Flask app's CELERY settings."""
    celery_app = Celery(app.name)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
