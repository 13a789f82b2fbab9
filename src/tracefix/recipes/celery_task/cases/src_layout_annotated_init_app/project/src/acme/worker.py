"""The worker's entry point: celery -A acme.worker worker"""
from acme.web import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
