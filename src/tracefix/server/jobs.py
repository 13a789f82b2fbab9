"""Jobs: what runs after an event is acknowledged, off the request.

Two runners with one interface. ``InProcessJobs`` (the embedded default): a digest thread
woken after each intake commit, and one fix thread. ``CeleryJobs`` (``TRACEFIX_BROKER_URL``
set): the same functions as Celery tasks (``server.tasks``), run by ``tracefix worker``s. Jobs
are idempotent: a digest takes only undigested events, a fix attempt is unique per issue and
release, so a job run twice does no harm.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database

logger = logging.getLogger("tracefix.server")


class Jobs(ABC):
    @abstractmethod
    def events_stored(self) -> None:
        """The intake committed events: digest them soon."""

    @abstractmethod
    def fix(self, issue_id: int) -> None:
        """Attempt a fix of the issue (new or regressed)."""

    def close(self) -> None:
        return None


def run_digest(config: ServerConfig, db: Database, jobs: Jobs) -> int:
    """Digest what is waiting and start a fix attempt for each new or regressed issue."""
    from tracefix.server.digest import digest_pending

    result = digest_pending(db)
    for issue_id in result.to_fix:
        jobs.fix(issue_id)
    return result.events


def run_review(config: ServerConfig, db: Database) -> None:
    """Deliver again what a forge failed to take, follow open pull requests' checks, and
    close or reopen what shipped fixes say."""
    from tracefix.server.closing import review_delivered_fixes
    from tracefix.server.delivery import follow_pull_requests
    from tracefix.server.delivery import retry_deliveries

    retry_deliveries(config, db)
    follow_pull_requests(db)
    review_delivered_fixes(config, db, quiet=config.fix_quiet_seconds)


def run_fix(config: ServerConfig, db: Database, issue_id: int) -> None:
    from tracefix.server.fixing import attempt_fix

    attempt_fix(config, db, issue_id)


class InProcessJobs(Jobs):
    """A digest thread and a fix thread inside the server process.

    ``auto_fix=False`` leaves fixes to be started by hand (the dashboard's button, tests)."""

    def __init__(self, config: ServerConfig, db: Database, *, auto_fix: bool = True) -> None:
        self.config = config
        self.db = db
        self.auto_fix = auto_fix
        self._wake = threading.Event()
        self._stopping = False
        self._stopped = threading.Event()
        self._idle = threading.Condition()
        self._busy = True
        self._fixes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracefix.fix")
        self._digester = threading.Thread(
            target=self._digest_loop, name="tracefix.digest", daemon=True
        )
        self._digester.start()
        self._reviewer = threading.Thread(
            target=self._review_loop, name="tracefix.review", daemon=True
        )
        self._reviewer.start()
        self._wake.set()  # what an earlier process stored and did not digest

    def events_stored(self) -> None:
        with self._idle:
            self._busy = True
        self._wake.set()

    def fix(self, issue_id: int) -> None:
        if self.auto_fix:
            self._fixes.submit(self._guarded_fix, issue_id)

    def wait_digested(self, timeout: float) -> bool:
        """For tests and the benchmark: wait until the digest has caught up."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout)

    def close(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        self._digester.join(10)
        self._fixes.shutdown(wait=False, cancel_futures=True)

    def _digest_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(5.0)
            self._wake.clear()
            if self._stopping:
                return
            try:
                run_digest(self.config, self.db, self)
            except Exception:
                logger.exception("tracefix: the digest failed; it runs again on the next event")
            with self._idle:
                if not self._wake.is_set():
                    self._busy = False
                    self._idle.notify_all()

    def _review_loop(self) -> None:
        while not self._stopped.wait(self.config.review_interval):
            try:
                run_review(self.config, self.db)
            except Exception:
                logger.exception("tracefix: the review of delivered fixes failed")

    def _guarded_fix(self, issue_id: int) -> None:
        try:
            run_fix(self.config, self.db, issue_id)
        except Exception:
            logger.exception("tracefix: the fix job of issue %d failed", issue_id)


class CeleryJobs(Jobs):
    """Sends the jobs to Celery workers through the broker."""

    def __init__(self, config: ServerConfig) -> None:
        from tracefix.server.tasks import celery_app

        self.app = celery_app(config)

    def events_stored(self) -> None:
        self.app.send_task("tracefix.digest")

    def fix(self, issue_id: int) -> None:
        self.app.send_task("tracefix.fix", args=(issue_id,))


def make_jobs(config: ServerConfig, db: Database) -> Jobs:
    if config.broker_url:
        return CeleryJobs(config)
    return InProcessJobs(config, db)
