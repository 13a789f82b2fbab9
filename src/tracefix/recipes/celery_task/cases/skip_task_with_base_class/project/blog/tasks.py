import logging

from celery import Task
from celery import shared_task

from blog import db
from blog.models import Post

log = logging.getLogger(__name__)


class AuditedTask(Task):
    """Logs every failure with the task's arguments."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        log.error("task %s(%r, %r) failed: %s", self.name, args, kwargs, exc)


@shared_task(base=AuditedTask)
def publish_scheduled():
    posts = db.session.scalars(db.select(Post).filter_by(published=False)).all()
    for post in posts:
        post.published = True
    db.session.commit()
    return len(posts)
