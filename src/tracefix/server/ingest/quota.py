"""Per-project quotas: events a minute, checked before anything is stored, so an event over
quota gets its ``429`` at once instead of a ``200`` and a silent drop later."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class Quotas:
    """A token bucket per project: ``per_minute`` tokens, refilled continuously.

    Kept in the server process: with several server processes each holds its own buckets
    (a project's real ceiling is ``processes × per_minute``).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, project_id: int, per_minute: int | None, count: int) -> float | None:
        """Take ``count`` tokens; None when allowed, else the seconds until they would be."""
        if per_minute is None or count == 0:
            return None
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(project_id, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens >= count:
                self._buckets[project_id] = (tokens - count, now)
                return None
            self._buckets[project_id] = (tokens, now)
            return max(1.0, math.ceil((count - tokens) / rate)) if rate > 0 else 60.0
