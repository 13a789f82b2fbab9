from app import create_app
from tasks import record_visit

app = create_app()
app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
record_visit.delay()
