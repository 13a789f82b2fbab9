"""Fixtures for the server: a real app on a real SQLite database in a temporary directory."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from tracefix.server.config import ServerConfig
from tracefix.server.web import create_app
from tracefix.server.web.ingest import forget_cached_projects
from tracefix.server.web.state import ServerState


def server_config(tmp_path: Path, **overrides: object) -> ServerConfig:
    data = tmp_path / "data"
    return ServerConfig.from_env(
        {}, data_dir=data, database_url=f"sqlite:///{data}/t.db", **overrides
    )


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[object]:
    """``make_app(auto_fix=False, **config)``: the server's app; closed after the test."""
    apps: list[Flask] = []

    def make(auto_fix: bool = False, **overrides: object) -> Flask:
        forget_cached_projects()
        app = create_app(server_config(tmp_path, **overrides))
        state(app).jobs.auto_fix = auto_fix  # type: ignore[attr-defined]
        apps.append(app)
        return app

    yield make
    for app in apps:
        state(app).close()
    forget_cached_projects()


def state(app: Flask) -> ServerState:
    found: ServerState = app.extensions["tracefix"]
    return found


class LiveServer:
    """The app on a loopback port, served by werkzeug's threaded server."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(10)


def clean_redis_broker(url: str) -> str:
    """``url``, a database of this machine's Redis, emptied for a test's Celery worker. Without
    Redis the test is skipped, except under CI, where it fails."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        pytest.skip("Redis is not reachable")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url
