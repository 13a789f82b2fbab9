"""Durable storage of received events, with group commit.

Each ingest request hands its events to ``Intake.store`` and waits: one writer thread takes
everything waiting, inserts it in one transaction, commits (on disk: see ``server.db``), and
only then releases the requests, which answer ``200``. Many requests share one commit and one
fsync, which is what lets one process store over a thousand events a second while never
acknowledging an event it could still lose. Events of open issues are filed in them in the same
transaction (``filing``); the rest are grouped after, by the digest, which ``on_stored`` wakes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from tracefix.server.db import Database
from tracefix.server.ingest.filing import StoredEvents
from tracefix.server.ingest.filing import store_events
from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.models import utcnow

logger = logging.getLogger("tracefix.server")

#: Rows per transaction at most: bounds a commit's latency under a burst.
MAX_BATCH = 2000


class IntakeUnavailable(Exception):
    """The events could not be stored: the request must not be acknowledged."""


@dataclass
class _Pending:
    project_id: int
    events: Sequence[IncomingEvent]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Intake:
    """The writer thread; ``on_stored`` runs after a commit that left events for the digest."""

    def __init__(self, db: Database, on_stored: Callable[[], None] | None = None) -> None:
        self.db = db
        self.on_stored = on_stored
        db.checkpoint_in_background()
        self._lock = threading.Condition()
        self._pending: list[_Pending] = []
        self._closed = False
        self.stored = 0
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="tracefix.intake", daemon=True)
        self._thread.start()

    def store(
        self, project_id: int, events: Sequence[IncomingEvent], timeout: float = 30.0
    ) -> None:
        """Return once ``events`` are committed; raise ``IntakeUnavailable`` if they were not."""
        if not events:
            return
        pending = _Pending(project_id, events)
        with self._lock:
            if self._closed:
                raise IntakeUnavailable("the server is shutting down")
            self._pending.append(pending)
            self._lock.notify()
        if not pending.done.wait(timeout):
            raise IntakeUnavailable(f"storage did not answer within {timeout:.0f} s")
        if pending.error is not None:
            raise IntakeUnavailable(f"storage failed: {pending.error}") from pending.error

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if not self._pending:
                    return
                batch, rows = [], 0
                while self._pending and rows < MAX_BATCH:
                    batch.append(self._pending.pop(0))
                    rows += len(batch[-1].events)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        error: BaseException | None = None
        stored = StoredEvents(inserted=0, filed=0)
        events = [(pending.project_id, event) for pending in batch for event in pending.events]
        for attempt in range(3):
            try:
                with self.db.writing() as connection:
                    stored = store_events(connection, events, utcnow())
                error = None
                break
            except Exception as exc:  # the database is down or locked: try again, then give up
                error = exc
                logger.warning("tracefix: could not store %d events: %s", len(events), exc)
                time.sleep(0.05 * (attempt + 1))
        if error is None:
            self.stored += stored.inserted
            self.commits += 1
        for pending in batch:
            pending.error = error
            pending.done.set()
        if error is None and stored.for_the_digest and self.on_stored is not None:
            try:
                self.on_stored()
            except Exception:
                logger.exception("tracefix: the digest could not be woken")
