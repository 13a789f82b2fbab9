"""Run every scheduled job once, now, the way the scheduler runs it; fail if one fails."""

import threading
from datetime import datetime
from datetime import timezone

from apscheduler.events import EVENT_JOB_ERROR
from apscheduler.events import EVENT_JOB_EXECUTED

from reports import create_app
from reports.extensions import scheduler

create_app()
finished = threading.Semaphore(0)
errors = []


def on_job_event(event):
    if event.exception is not None:
        errors.append(event.exception)
    finished.release()


scheduler.add_listener(on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
scheduler.start(paused=True)
jobs = scheduler.get_jobs()
for job in jobs:
    job.modify(next_run_time=datetime.now(timezone.utc))
scheduler.resume()
for _job in jobs:
    finished.acquire()
scheduler.shutdown()
if errors:
    raise errors[0]
