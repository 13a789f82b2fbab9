from celery import shared_task
from flask import current_app
from flask import request


@shared_task
def record_visit():
    current_app.logger.info("visit from %s", request.remote_addr)
