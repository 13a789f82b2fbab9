"""Uncaught exceptions in threads, through ``threading.excepthook``."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ...conftest import CapturedEvents
from ...conftest import TracefixInit
from ...conftest import check_event


@pytest.fixture
def previous_hook(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A hook in place before ``init``: the SDK must chain to it, not replace it."""
    calls: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", calls.append)
    return calls


def run_in_thread(target: Any, name: str = "worker-7") -> None:
    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join(10)


def sync_orders() -> None:
    batch = [101, 102]  # noqa: F841 - a local the event must show
    raise ConnectionError("inventory service unreachable")


def test_an_exception_in_a_thread_is_captured_and_passed_on(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, previous_hook: list[Any]
) -> None:
    tracefix_init()
    run_in_thread(sync_orders)

    (event,) = captured_events()
    (value,) = event["exception"]["values"]
    assert value["type"] == "ConnectionError"
    assert value["mechanism"] == {"type": "threading", "handled": False}
    assert value["stacktrace"]["frames"][-1]["vars"] == {"batch": "[101, 102]"}
    assert event["threads"]["values"][0]["name"] == "worker-7"
    assert event["threads"]["values"][0]["id"] == value["thread_id"]
    assert check_event(event).thread_name == "worker-7"
    assert check_event(event).in_thread

    (args,) = previous_hook
    assert isinstance(args.exc_value, ConnectionError)
    assert args.thread.name == "worker-7"


def test_system_exit_in_a_thread_is_not_an_error(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, previous_hook: list[Any]
) -> None:
    def leave() -> None:
        raise SystemExit(0)

    tracefix_init()
    run_in_thread(leave)
    assert captured_events() == []
    assert len(previous_hook) == 1


def test_disabled_the_previous_hook_still_runs(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, previous_hook: list[Any]
) -> None:
    tracefix_init(disabled_integrations=["threading"])
    run_in_thread(sync_orders)
    assert captured_events() == []
    assert len(previous_hook) == 1


def test_after_close_the_hook_only_passes_on(
    tracefix_init: TracefixInit, previous_hook: list[Any]
) -> None:
    import tracefix

    tracefix_init()
    tracefix.close()
    run_in_thread(sync_orders)
    assert len(previous_hook) == 1
