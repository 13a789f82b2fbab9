from blog import create_app
from blog.tasks import publish_scheduled

if __name__ == "__main__":
    app = create_app()
    app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
    print(publish_scheduled.delay().get())
