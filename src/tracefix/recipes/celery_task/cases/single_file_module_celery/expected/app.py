import os
from datetime import datetime
from datetime import timezone

from celery import Celery
from celery import Task
from flask import Flask
from flask import render_template_string
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///todo.db")
db = SQLAlchemy(app)


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        with app.app_context():
            return self.run(*args, **kwargs)


# The worker: celery -A app.celery worker
celery = Celery(
    app.name,
    broker=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"),
    task_cls=FlaskTask,
)

SUMMARY = "{{ count }} todo(s) archived at {{ when }}"


class Todo(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    done = db.Column(db.Boolean, default=False, nullable=False)
    archived = db.Column(db.Boolean, default=False, nullable=False)


@celery.task
def archive_done():
    todos = db.session.scalars(db.select(Todo).filter_by(done=True, archived=False)).all()
    for todo in todos:
        todo.archived = True
    db.session.commit()
    return render_template_string(SUMMARY, count=len(todos), when=datetime.now(timezone.utc))


@app.post("/archive")
def archive():
    archive_done.delay()
    return "", 202


with app.app_context():
    db.create_all()
