"""A transport that appends what it is given to a JSON-lines file: how a test reads the events
of a subprocess (a script, a Celery worker) whose memory it cannot see.

Each line is one of ``{"event": {...}}``, ``{"lost": reason}``, ``{"flush": timeout}`` or
``{"close": timeout}``, with the pid of the process that wrote it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tracefix.sdk.transport import Transport

#: The folder to put on a subprocess's ``sys.path`` to import this module.
HERE = os.path.dirname(os.path.abspath(__file__))


class FileTransport(Transport):
    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, record: dict[str, Any]) -> None:
        record["pid"] = os.getpid()
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")

    def capture_event(self, event: dict[str, Any]) -> None:
        self._write({"event": event})

    def record_lost_event(self, reason: str, category: str = "error", quantity: int = 1) -> None:
        self._write({"lost": reason})

    def flush(self, timeout: float) -> bool:
        self._write({"flush": timeout})
        return True

    def close(self, timeout: float) -> None:
        self._write({"close": timeout})


def read_records(path: str) -> list[dict[str, Any]]:
    """The records written so far: a line still being written (a large event takes several
    ``write`` calls) has no newline yet, and is left for the next read."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.endswith("\n") and line.strip()]
