"""Durable storage of received events, with group commit.

Each ingest request hands its events to ``Intake.store`` and waits until they are committed
(on disk: see ``server.db``); only then does it answer ``200``. Many requests share one commit
and one fsync, which is what lets one process store over a thousand events a second while never
acknowledging an event it could still lose. Events of open issues are filed in them in the same
transaction (``filing``); the rest are grouped after, by the digest, which ``on_stored`` wakes.

The commits are made by the waiting requests' own threads, one at a time: a request that finds
no commit under way commits everything waiting (its own events among them); requests arriving
meanwhile queue, and when the commit is done the first of them is woken to commit the queue.
A writer thread of its own would cost every batch two more thread switches (wake the writer,
then get the GIL back from it) and one more thread contending for the GIL, which on two cores
is what an ingest request mostly waits for; with one connection sending, a request now commits
its event itself, without any switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from tracefix.server.db import Database
from tracefix.server.ingest.filing import EventWriter
from tracefix.server.ingest.filing import StoredEvents
from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.models import utcnow

logger = logging.getLogger("tracefix.server")

#: Rows per transaction at most: bounds a commit's latency under a burst.
MAX_BATCH = 2000


class IntakeUnavailable(Exception):
    """The events could not be stored: the request must not be acknowledged."""


@dataclass(eq=False)
class _Pending:
    """One request's events, and what its thread is woken for: ``committed`` (``error`` says
    whether it failed) or ``leads`` (commit the queue)."""

    project_id: int
    events: Sequence[IncomingEvent]
    woken: threading.Event = field(default_factory=threading.Event)
    committed: bool = False
    leads: bool = False
    error: BaseException | None = None


class Intake:
    """Group commit by the requests' threads; ``on_stored`` runs after a commit that left
    events for the digest."""

    def __init__(self, db: Database, on_stored: Callable[[], None] | None = None) -> None:
        self.db = db
        self.on_stored = on_stored
        db.checkpoint_in_background()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: deque[_Pending] = deque()
        self._committing = False
        self._closed = False
        #: Kept between commits (only the leading thread uses it); dropped after an error.
        self._writer: EventWriter | None = None
        self.stored = 0
        self.commits = 0

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
            self._queue.append(pending)
            if not self._committing:
                self._committing = pending.leads = True
        deadline = time.monotonic() + timeout
        while not pending.committed:
            if pending.leads:
                pending.leads = False
                self._lead(pending)
                continue
            if pending.woken.wait(max(0.0, deadline - time.monotonic())):
                pending.woken.clear()
            elif self._give_up(pending):
                raise IntakeUnavailable(f"storage did not answer within {timeout:.0f} s")
        if pending.error is not None:
            raise IntakeUnavailable(f"storage failed: {pending.error}") from pending.error

    def close(self, timeout: float = 10.0) -> None:
        """Refuse new events; wait for the commit under way and the queue behind it."""
        with self._lock:
            self._closed = True
            self._idle.wait_for(lambda: not self._committing, timeout)
            if not self._committing and self._writer is not None:
                self._writer.close()
                self._writer = None

    def _give_up(self, pending: _Pending) -> bool:
        """After a timeout: whether the request may answer that storage is unavailable. Not
        if it was just told to lead (the queue would have no one to commit it)."""
        with self._lock:
            if pending.leads or pending.committed:
                return False
            if pending in self._queue:
                self._queue.remove(pending)
            return True

    def _lead(self, own: _Pending) -> None:
        """Commit batches until ``own`` is committed, then pass the lead on to the first
        request still queued, if any."""
        try:
            while not own.committed:
                with self._lock:
                    batch, rows = [], 0
                    while self._queue and rows < MAX_BATCH:
                        batch.append(self._queue.popleft())
                        rows += len(batch[-1].events)
                if not batch:
                    break
                self._commit(batch)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.woken.set()
                else:
                    self._committing = False
                    self._idle.notify_all()

    def _drop_writer(self) -> None:
        """After an error: the next attempt starts from a new connection (the database may
        have restarted under the old one)."""
        if self._writer is not None:
            try:
                self._writer.discard()
            except Exception:
                logger.debug("tracefix: closing a failed connection failed", exc_info=True)
            self._writer = None

    def _commit(self, batch: list[_Pending]) -> None:
        error: BaseException | None = None
        stored = StoredEvents(inserted=0, filed=0)
        events = [(pending.project_id, event) for pending in batch for event in pending.events]
        try:
            for attempt in range(3):
                try:
                    if self._writer is None:
                        self._writer = EventWriter(self.db)
                    stored = self._writer.store(events, utcnow())
                    error = None
                    break
                except Exception as exc:  # the database is down or locked: again, then give up
                    error = exc
                    logger.warning("tracefix: could not store %d events: %s", len(events), exc)
                    self._drop_writer()
                    time.sleep(0.05 * (attempt + 1))
        except BaseException as exc:  # the thread is being torn down: nothing was acknowledged
            error = exc
            raise
        finally:
            if error is None:
                self.stored += stored.inserted
                self.commits += 1
            for pending in batch:
                pending.error = error
                pending.committed = True
                pending.woken.set()
        if stored.for_the_digest and self.on_stored is not None:
            try:
                self.on_stored()
            except Exception:
                logger.exception("tracefix: the digest could not be woken")
