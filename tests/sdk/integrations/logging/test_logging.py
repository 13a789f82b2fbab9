"""Log records: exceptions logged at ERROR become events, once; INFO and up are breadcrumbs."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tracefix

from ...conftest import CapturedEvents
from ...conftest import TracefixInit

logger = logging.getLogger("tests.sdk.payments")


def charge(amount: int) -> None:
    raise RuntimeError(f"card declined for {amount}")


def test_logger_exception_is_captured_once(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    try:
        charge(30)
    except RuntimeError:
        logger.exception("charging order %s failed", 17)
        logger.error("again", exc_info=True)  # the same exception: no second event

    (event,) = captured_events()
    assert event["exception"]["values"][0]["mechanism"] == {"type": "logging", "handled": True}
    assert event["logentry"] == {
        "message": "charging order %s failed",
        "formatted": "charging order 17 failed",
    }
    assert event["logger"] == "tests.sdk.payments"
    assert event["level"] == "error"


def test_an_exception_sent_by_hand_is_not_sent_again_by_its_log(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    try:
        charge(30)
    except RuntimeError:
        tracefix.capture_exception()
        logger.exception("charging failed")
    (event,) = captured_events()
    assert event["exception"]["values"][0]["mechanism"]["type"] == "generic"


def test_critical_is_fatal(tracefix_init: TracefixInit, captured_events: CapturedEvents) -> None:
    tracefix_init()
    try:
        charge(1)
    except RuntimeError:
        logger.critical("down", exc_info=True)
    assert captured_events()[0]["level"] == "fatal"


def test_records_without_an_exception_are_breadcrumbs(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    logger.setLevel(logging.DEBUG)
    logger.debug("not kept")
    logger.info("cart has %d items", 3)
    logger.warning("slow payment provider")
    logger.error("no exception here")
    tracefix.capture_exception(_raised())

    (event,) = captured_events()
    crumbs = [(c["level"], c["message"]) for c in event["breadcrumbs"]["values"]]
    assert crumbs == [
        ("info", "cart has 3 items"),
        ("warning", "slow payment provider"),
        ("error", "no exception here"),
    ]


def test_a_logger_that_does_not_propagate_is_still_seen(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    isolated = logging.getLogger("tests.sdk.isolated")
    isolated.propagate = False
    isolated.addHandler(logging.NullHandler())
    try:
        tracefix_init()
        try:
            charge(2)
        except RuntimeError:
            isolated.exception("failed")
        assert len(captured_events()) == 1
    finally:
        isolated.propagate = True
        isolated.handlers.clear()


def test_the_sdks_own_loggers_are_ignored(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, internal_errors: list[Any]
) -> None:
    tracefix_init()
    try:
        charge(3)
    except RuntimeError:
        logging.getLogger("tracefix.sdk.transport").error("could not send", exc_info=True)
    logging.getLogger("tracefix.sdk").warning("a warning of the SDK's own")
    assert captured_events() == []
    tracefix.capture_exception(_raised())
    assert "breadcrumbs" not in captured_events()[0]
    internal_errors.clear()  # the record above carried exc_info on purpose


def test_a_disabled_integration_sees_nothing(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init(disabled_integrations=["logging"])
    logger.warning("not a breadcrumb")
    try:
        charge(4)
    except RuntimeError:
        logger.exception("not an event")
    assert captured_events() == []


class LogsWhenShown:
    """A local whose ``__repr__`` logs an error of its own: building the event must not
    capture it (nor recurse)."""

    def __repr__(self) -> str:
        try:
            raise LookupError("cache miss while rendering")
        except LookupError:
            logger.exception("repr failed")
        return "<LogsWhenShown>"


def test_an_error_logged_while_an_event_is_built_is_not_captured(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    def fail(thing: LogsWhenShown) -> None:
        raise ValueError("outer")

    tracefix_init()
    try:
        fail(LogsWhenShown())
    except ValueError:
        tracefix.capture_exception()
    (event,) = captured_events()
    assert event["exception"]["values"][0]["value"] == "outer"
    assert event["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"] == {
        "thing": "<LogsWhenShown>"
    }


def test_options_are_validated() -> None:
    from tracefix.sdk.integrations.logging import LoggingIntegration

    with pytest.raises(ValueError, match="logging levels"):
        LoggingIntegration(level="INFO")  # type: ignore[arg-type]


def test_the_apps_own_log_output_is_unchanged(tmp_path: Path) -> None:
    """With no handler configured, Python prints warnings through ``logging.lastResort``: a
    handler on the root logger would silence it, the SDK's hook does not."""
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import logging, sys
            if sys.argv[1] == "sdk":
                import tracefix
                from tracefix.sdk import MemoryTransport
                tracefix.init(transport=MemoryTransport())
            logging.getLogger("app").warning("disk almost full")
            """
        )
    )
    outputs = [
        subprocess.run(
            [sys.executable, str(script), variant], capture_output=True, text=True, check=True
        )
        for variant in ("plain", "sdk")
    ]
    assert outputs[0].stderr == outputs[1].stderr == "disk almost full\n"


def _raised() -> BaseException:
    try:
        charge(0)
    except RuntimeError as exc:
        return exc
    raise AssertionError
