"""The worker's entry point: celery -A celery_worker.celery worker"""
from app import celery  # noqa: F401
from app import create_app

flask_app = create_app()
