from notes.extensions import celery
from notes.tasks import empty_trash

if __name__ == "__main__":
    celery.conf.update(task_always_eager=True, task_eager_propagates=True)
    print(empty_trash.delay().get())
