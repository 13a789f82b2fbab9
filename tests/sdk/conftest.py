"""What the SDK tests share: a real client over a ``MemoryTransport``, and strictness.

- ``tracefix_init(**options)`` starts a real client (every default integration, real hooks)
  whose transport keeps events in memory, with ``tests/`` as the in-app root;
  ``captured_events()`` is that list.
- ``internal_errors`` (autouse) fails the test on any error the SDK swallowed: production logs
  them at debug level and carries on, tests never let one hide (sentry-python's
  ``internal_exceptions``). A test that provokes one on purpose asserts on the list and
  clears it.
- ``reset_sdk`` (autouse) closes the client and uninstalls every hook after each test, so each
  test installs the integrations afresh over the hooks it set up itself.
- Every captured event must survive ``json.dumps`` and ``Event.from_dict``: what the transport
  and the fix engine do with it.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracefix.event import Event
from tracefix.sdk import _internal
from tracefix.sdk import client as client_module
from tracefix.sdk import integrations
from tracefix.sdk.client import Client
from tracefix.sdk.transport import MemoryTransport

#: The in-app root of test clients: the tests' own frames are the app's, tracefix's are not.
TESTS_ROOT = str(Path(__file__).resolve().parents[1])

TracefixInit = Callable[..., Client]
CapturedEvents = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def internal_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    errors: list[Any] = []
    monkeypatch.setattr(_internal, "report_internal_error", errors.append)

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                errors.append(record.exc_info)

    handler = Collect(logging.DEBUG)
    logger = logging.getLogger("tracefix.sdk")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield errors
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    if errors:
        exc_info = errors[0]
        raise AssertionError(f"the SDK swallowed {len(errors)} error(s)") from exc_info[1]


@pytest.fixture(autouse=True)
def reset_sdk() -> Iterator[None]:
    saved = (sys.excepthook, threading.excepthook, logging.Logger.callHandlers)
    yield
    client_module.close(0.0)
    sys.excepthook, threading.excepthook, logging.Logger.callHandlers = saved  # type: ignore[method-assign]
    integrations._processed.clear()
    integrations._installed.clear()
    _disconnect_signals()


def _disconnect_signals() -> None:
    atexit_integration = sys.modules.get("tracefix.sdk.integrations.atexit")
    if atexit_integration is not None:
        atexit.unregister(atexit_integration._shutdown)
    flask_integration = sys.modules.get("tracefix.sdk.integrations.flask")
    if flask_integration is not None:
        flask_integration.got_request_exception.disconnect(
            flask_integration._capture_request_exception
        )
    celery_integration = sys.modules.get("tracefix.sdk.integrations.celery")
    if celery_integration is not None:
        signals = celery_integration.signals
        signals.task_failure.disconnect(celery_integration._capture_task_failure)
        signals.worker_process_shutdown.disconnect(celery_integration._flush)
        signals.worker_shutdown.disconnect(celery_integration._flush)


@pytest.fixture
def tracefix_init() -> Iterator[TracefixInit]:
    transports: list[MemoryTransport] = []

    def init(**options: Any) -> Client:
        options.setdefault("transport", MemoryTransport())
        options.setdefault("in_app_root", TESTS_ROOT)
        if isinstance(options["transport"], MemoryTransport):
            transports.append(options["transport"])
        return client_module.init(**options)

    yield init
    for transport in transports:
        for event in transport.events:
            check_event(event)


@pytest.fixture
def captured_events() -> CapturedEvents:
    def events() -> list[dict[str, Any]]:
        transport = client_module.get_client().transport
        assert isinstance(transport, MemoryTransport), "call tracefix_init() first"
        return transport.events

    return events


def check_event(event: dict[str, Any]) -> Event:
    """The invariants of every event: plain JSON, and readable by the fix engine."""
    json.dumps(event)
    return Event.from_dict(event)
