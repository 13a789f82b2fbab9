import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from shop.celery_utils import make_celery

app = Flask(__name__)
app.config.update(
    SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", "sqlite:///shop.db"),
    CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"),
    CELERY_RESULT_BACKEND=os.environ.get("CELERY_RESULT_BACKEND", "redis://localhost:6379/0"),
)
db = SQLAlchemy(app)
celery = make_celery(app)

from shop import models, views  # noqa: E402,F401

with app.app_context():
    db.create_all()
