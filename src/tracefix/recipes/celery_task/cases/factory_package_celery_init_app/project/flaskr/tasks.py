from celery import shared_task
from sqlalchemy import func
from sqlalchemy import select

from flaskr import db
from flaskr.models import User


@shared_task(ignore_result=False)
def count_users():
    return db.session.scalar(select(func.count(User.id)))
