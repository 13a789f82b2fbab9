"""The transport: how a finished event leaves the process. The seam between the client and the
network (httpx's transport idea): the client hands over a final, scrubbed event dict and moves
on; the transport owns queueing, the disk spool, retries, rate limits and client reports.

Every method is non-blocking except ``flush`` and ``close``, and none raises into the host app.
"""

from __future__ import annotations

import threading
from abc import ABC
from abc import abstractmethod
from typing import Any


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
