import os

from celery import Celery
from celery import Task
from flask import Flask


def celery_init_app(app):
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def create_app():
    app = Flask(__name__)
    app.config.from_mapping(
        CELERY=dict(
            broker_url=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"),
            task_ignore_result=True,
        ),
    )
    celery_init_app(app)

    from tasks import record_visit

    @app.get("/")
    def index():
        record_visit.delay()
        return "hello"

    return app
