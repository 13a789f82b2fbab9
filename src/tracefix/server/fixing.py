"""The fix job: from an issue to a verified fix, a pushed branch and a pull request."""

from __future__ import annotations

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database


def attempt_fix(config: ServerConfig, db: Database, issue_id: int) -> None:
    raise NotImplementedError
