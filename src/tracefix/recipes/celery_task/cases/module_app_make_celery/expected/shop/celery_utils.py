from celery import Celery, Task


def make_celery(app):
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(
        app.import_name,
        backend=app.config["CELERY_RESULT_BACKEND"],
        broker=app.config["CELERY_BROKER_URL"],
        task_cls=FlaskTask,
    )
    celery.conf.update(result_expires=3600, include=["shop.tasks"])
    return celery
