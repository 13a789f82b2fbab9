"""Log records: ``ERROR`` records with an exception become events, ``INFO`` and up breadcrumbs.

``Logger.callHandlers`` is wrapped rather than a handler added to the root logger (as
sentry-python does): a root handler would silence ``logging.lastResort``, so an app that never
configured logging would stop printing its warnings; and a logger with ``propagate=False``
would never reach it.

An exception already sent is never built again: Flask logs every error it has just signalled
(``Exception on /path [GET]``), Celery every task failure. The check is the first thing done
(getsentry/sentry-python#4365: sentry builds each such event twice and drops one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk.client import MAX_MESSAGE
from tracefix.sdk.client import Client
from tracefix.sdk.client import get_client
from tracefix.sdk.integrations import Integration

#: Loggers whose records are never captured: the SDK's own (an error while sending must not
#: make an event to send), and Celery's task-failure log (the Celery integration's signal
#: made the event; the same exception can come back re-created from its pickle).
IGNORED_LOGGERS = ("tracefix", "celery.app.trace", "celery.worker.job")

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}


class LoggingIntegration(Integration):
    """``level``: the lowest level kept as a breadcrumb; ``event_level``: the lowest level
    whose records with ``exc_info`` become events."""

    identifier = "logging"

    def __init__(self, level: int = logging.INFO, event_level: int = logging.ERROR) -> None:
        if not isinstance(level, int) or not isinstance(event_level, int):
            raise ValueError("level and event_level are logging levels (ints)")
        self.level = level
        self.event_level = event_level
        self.floor = min(level, event_level)

    @staticmethod
    def setup_once() -> None:
        setattr(logging.Logger, "callHandlers", _wrapped(logging.Logger.callHandlers))  # noqa: B010

    def handle(self, client: Client, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        if exc is not None and record.levelno >= self.event_level:
            client.capture_exception(
                exc,
                mechanism="logging",
                handled=True,
                level=_level_name(record.levelno),
                processor=partial(_add_record, record),
                hint={"log_record": record},
            )
        elif record.levelno >= self.level:
            client.add_breadcrumb(_level_name(record.levelno), record.name, _message(record))


def _wrapped(
    call_handlers: Callable[[logging.Logger, logging.LogRecord], None],
) -> Callable[[logging.Logger, logging.LogRecord], None]:
    def tracefix_call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
        try:
            call_handlers(self, record)
        finally:
            client = get_client()
            integration = client.get_integration(LoggingIntegration.identifier)
            if (
                isinstance(integration, LoggingIntegration)
                and record.levelno >= integration.floor
                and not _ignored(record.name)
            ):
                with capture_internal_errors():
                    integration.handle(client, record)

    return tracefix_call_handlers


def _ignored(name: str) -> bool:
    return any(name == ignored or name.startswith(ignored + ".") for ignored in IGNORED_LOGGERS)


def _level_name(levelno: int) -> str:
    return _LEVELS.get(levelno) or ("fatal" if levelno > logging.CRITICAL else "info")


def _message(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging itself reports it elsewhere
        message = str(record.msg)
    return message[:MAX_MESSAGE]


def _add_record(record: logging.LogRecord, event: dict[str, Any]) -> None:
    event["logger"] = record.name
    event["logentry"] = {"message": str(record.msg)[:MAX_MESSAGE], "formatted": _message(record)}
