"""Serving the app with Granian: one worker process, request threads.

One process because the in-process jobs and the intake's group commit live in it; threads
because an ingest request waits for its commit (the more requests wait on one commit, the fewer
commits). For more, run several ``tracefix serve`` behind a proxy with PostgreSQL and a broker.

Granian rather than a pure-Python server: it parses HTTP and keeps the connections in Rust, off
the GIL, and hands each request to a Python thread ready to run. Under gunicorn's ``gthread``
worker the same ingest request cost about 0.6 ms of CPU more (HTTP parsing in Python, and two
thread hand-offs per request on a keep-alive connection): on two cores, a third of the
thousand events a second the server is meant to store.
"""

from __future__ import annotations

import gc
import logging
import socket
from functools import partial
from typing import Any

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

from tracefix.server.config import ServerConfig

#: Granian's own lines to standard error (its default is standard output), without its warning
#: that more request threads than cores is a lot: ours mostly wait for a commit, not the CPU.
_LOGGING = {
    "filters": {"threads": {"()": "tracefix.server.wsgi.WithoutThreadCountWarning"}},
    "handlers": {
        "console": {
            "formatter": "generic",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["threads"],
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
    },
}


class WithoutThreadCountWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads" not in record.getMessage()


def load_app(config: ServerConfig) -> Any:
    """The app, made in the worker process."""
    from tracefix.server.web import create_app

    # Migrated by ``tracefix serve`` before the worker starts.
    app = create_app(config, migrate=False)
    # What the app's start made (~120,000 objects: modules, SQLAlchemy's and Flask's
    # structures) lives as long as the process: out of the collector's sight, a full
    # collection under load pauses every request for 0.1-0.2 ms instead of 100-180 ms.
    gc.freeze()
    return app


def check_listenable(host: str, port: int) -> None:
    """Raise ``OSError`` if ``host:port`` cannot be listened on (taken, no such address): Granian
    would report it as a panic's backtrace."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family):
        pass


def serve_forever(config: ServerConfig) -> None:
    host, port = config.address
    server = Server(
        "tracefix.server.web:create_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=config.threads,
        backpressure=config.threads,
        # A worker asked to stop by a terminal's Ctrl-C and by Granian at once can stay stuck
        # in its signal handler (Granian 2.8, about one stop in six): killed after this long.
        # It has nothing to lose by then: an event is acknowledged only once committed.
        workers_kill_timeout=10,
        log_level=LogLevels.warning,
        log_dictconfig=_LOGGING,
    )
    server.serve(target_loader=partial(load_app, config), wrap_loader=False)
