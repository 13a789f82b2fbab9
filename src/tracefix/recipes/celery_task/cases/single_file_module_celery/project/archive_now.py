"""Archive the done todos in this process, without a worker."""
from app import archive_done
from app import celery

celery.conf.task_always_eager = True
celery.conf.task_eager_propagates = True

print(archive_done.delay().get())
