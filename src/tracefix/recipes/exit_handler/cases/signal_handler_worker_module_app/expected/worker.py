"""Process queued jobs until SIGTERM, then hand running jobs back to the queue."""

import signal
import time

from flask import current_app

from jobs import create_app
from jobs import db
from jobs.models import Job

app = create_app()
stopping = False


def on_sigterm(signum, frame):
    global stopping
    with app.app_context():
        stopping = True
        requeued = Job.query.filter_by(state="running").update({"state": "queued"})
        db.session.commit()
        current_app.logger.info("stopping: %d jobs back in the queue", requeued)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    print("ready", flush=True)
    while not stopping:
        time.sleep(0.05)


if __name__ == "__main__":
    main()
