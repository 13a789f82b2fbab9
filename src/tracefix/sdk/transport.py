"""The transport: how a finished event leaves the process. The seam between the client and the
network (httpx's transport idea): the client hands over a final, scrubbed event dict and moves
on; the transport owns queueing, the disk spool, retries, rate limits and client reports.

Every method is non-blocking except ``flush`` and ``close``, and none raises into the host app.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC
from abc import abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracefix.sdk._spool import DiskSpool
from tracefix.sdk._spool import MiB
from tracefix.sdk._spool import default_spool_dir
from tracefix.sdk._spool import fallback_spool_dir
from tracefix.sdk._worker import TransportStats
from tracefix.sdk._worker import Worker
from tracefix.sdk.dsn import Dsn

logger = logging.getLogger("tracefix.sdk")


class Transport(ABC):
    """Base of every transport."""

    @abstractmethod
    def capture_event(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for delivery. Never blocks on the network, never raises."""

    @abstractmethod
    def record_lost_event(self, reason: str, category: str = "error", quantity: int = 1) -> None:
        """Count an event the client dropped (``before_send``, ``sample_rate``...), so the next
        client report tells the server."""

    @abstractmethod
    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every queued event is delivered or safely
        spooled to disk. True when nothing is left in memory."""

    @abstractmethod
    def close(self, timeout: float) -> None:
        """Flush, then stop the worker. Later events are dropped and counted."""


class MemoryTransport(Transport):
    """Keeps events in a list: for tests, and for ``init(transport=...)`` in embedding code."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lost: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def capture_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def record_lost_event(self, reason: str, category: str = "error", quantity: int = 1) -> None:
        with self._lock:
            self.lost[(reason, category)] = self.lost.get((reason, category), 0) + quantity

    def flush(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> None:
        return None


class HttpTransport(Transport):
    """Sends events to a Sentry-compatible server over the envelope protocol.

    With a spool (the default), ``capture_event`` serialises the event on the caller's thread
    (``marshal``: ~6 µs for a typical event) and copies it into this process's journal, a
    memory-mapped file in the spool directory (``_journal``): no system call, so the app's
    thread never hands the GIL to the transport's thread on the way. One daemon thread sends
    each record from the journal, gzipped, in a POST over one keep-alive connection, oldest
    first, after anything older waiting in the spool. A record it cannot send now (the server
    is down, or rate-limits) it moves into the disk spool, one fsynced file per envelope. While
    the server is down (a network error or a 5xx) files stay and are retried with capped,
    jittered exponential back-off (``backoff_base`` doubling up to ``backoff_max`` seconds);
    while it rate-limits (429, ``X-Sentry-Rate-Limits``) they wait out the limit. A 4xx other
    than 429 drops the envelope (``send_error``). Whatever is dropped is counted by reason and
    category and reported to the server in a ``client_report`` item with the next envelope,
    every ``report_interval`` seconds, and at ``flush``.

    ``spool_dir``: True (the default) for a per-user cache directory keyed by the DSN, a path,
    or None/False for no spool. Without a spool there is no journal either: events wait in a
    memory queue (``queue_size`` of them, oldest dropped first as ``queue_overflow``) and are
    dropped as ``ratelimit_backoff`` while rate-limited. The spool holds at most
    ``spool_max_events`` / ``spool_max_bytes``; beyond that the oldest is dropped
    (``cache_overflow``). The journal holds at most ``spool_max_bytes`` too, in files of 1 MiB:
    when the thread falls that far behind (a flood of errors while the server is down), its
    oldest file's events are dropped (``cache_overflow``).

    What a kill -9 can lose: nothing ``capture_event`` has returned from. The event is in the
    kernel's page cache by then, and the next process using the spool directory recovers a
    dead process's journal into spool files (tests/sdk/transport/test_journal.py kills a
    process in a burst of captures and finds every event it had captured delivered). An event
    in flight at the kill may be sent twice; the server drops the repeat by its ``event_id``.
    The exceptions: an event the journal cannot take (over 1 MiB serialised, a journal file
    that could not be created, no ``posix_fallocate`` (macOS), or after ``close``) goes through
    the memory queue as without a spool, and the thread writes it to the spool with an fsync;
    a kill -9 loses those still queued. Measured on this 2-core machine over loopback, events
    1 ms apart: that queue path took 170-410 ms (median) from ``capture_event`` to a file on
    disk, as the thread fell behind the fsyncs; through the journal an event was delivered
    0.8-1.7 ms (median) after ``capture_event`` returned. A crash of the machine (not of the
    process) can lose the journal's records not yet sent nor moved into an fsynced spool file:
    that window is the time to delivery while the server is up, and the backlog of fsyncs
    while it is down.

    ``flush`` waits until the thread has sent what it can (the rest stays on disk, in the
    journal or the spool), and ``close`` moves what the thread left into the spool as far as
    its timeout allows (the thread moves the rest once its POST ends, else the next process
    does): both return within their timeout even while the thread waits on a hung server.
    """

    def __init__(
        self,
        dsn: Dsn | str,
        *,
        queue_size: int = 100,
        spool_dir: str | os.PathLike[str] | bool | None = True,
        spool_max_events: int = 10_000,
        spool_max_bytes: int = 50 * MiB,
        spool_fsync: bool = True,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        gzip_level: int = 1,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        report_interval: float = 30.0,
        scan_interval: float = 60.0,
    ) -> None:
        self.dsn = dsn if isinstance(dsn, Dsn) else Dsn.parse(dsn)
        spool = self._open_spool(spool_dir, spool_max_events, spool_max_bytes, spool_fsync)
        self._worker = Worker(
            self.dsn,
            spool=spool,
            queue_size=queue_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            gzip_level=gzip_level,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            report_interval=report_interval,
            scan_interval=scan_interval,
        )

    @property
    def spool_dir(self) -> Path | None:
        spool = self._worker.spool
        return None if spool is None else spool.directory

    @property
    def stats(self) -> TransportStats:
        """A snapshot of the counters."""
        stats = self._worker.stats
        return replace(stats, dropped=dict(stats.dropped))

    def capture_event(self, event: dict[str, Any]) -> None:
        try:
            if self._worker.append(event) or self._worker.submit(event):
                return
            if self._worker.spool is not None:
                # Full or closed: straight to disk, nothing lost. Without the fsync, which
                # costs the app's thread about 1 ms here (docs in the class docstring).
                self._worker.store(event, sync=False)
            else:
                self._worker.record_lost("queue_overflow", "error")
        except Exception:
            logger.debug("tracefix: could not queue an event", exc_info=True)

    def record_lost_event(self, reason: str, category: str = "error", quantity: int = 1) -> None:
        try:
            self._worker.record_lost(reason, category, quantity)
        except Exception:
            logger.debug("tracefix: could not count a lost event", exc_info=True)

    def flush(self, timeout: float) -> bool:
        try:
            return self._worker.flush(timeout)
        except Exception:
            logger.debug("tracefix: flush failed", exc_info=True)
            return False

    def close(self, timeout: float) -> None:
        try:
            self._worker.close(timeout)
        except Exception:
            logger.debug("tracefix: close failed", exc_info=True)

    def _open_spool(
        self,
        spool_dir: str | os.PathLike[str] | bool | None,
        max_events: int,
        max_bytes: int,
        fsync: bool,
    ) -> DiskSpool | None:
        if spool_dir is None or spool_dir is False:
            return None
        if spool_dir is True:
            candidates = [default_spool_dir(self.dsn), fallback_spool_dir(self.dsn)]
        else:
            candidates = [Path(spool_dir)]
        for directory in candidates:
            try:
                return DiskSpool(
                    directory,
                    max_events=max_events,
                    max_bytes=max_bytes,
                    fsync=fsync,
                    on_evict=self._evicted_from_spool,
                )
            except OSError:
                logger.debug("tracefix: no spool in %s", directory, exc_info=True)
        return None

    def _evicted_from_spool(self, category: str, quantity: int) -> None:
        # develop.sentry.dev/sdk/telemetry/client-reports/: cache_overflow is the reason for an
        # offline cache that was full.
        self._worker.record_lost("cache_overflow", category, quantity)
