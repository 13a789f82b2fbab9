from celery.result import AsyncResult
from flask import Blueprint

from flaskr.tasks import count_users

bp = Blueprint("users", __name__)


@bp.post("/users/count")
def start_count():
    result = count_users.delay()
    return {"task_id": result.id}, 202


@bp.get("/tasks/<task_id>")
def task_result(task_id):
    result = AsyncResult(task_id)
    return {"ready": result.ready(), "value": result.result if result.ready() else None}
