"""The error for a failure no recipe recognises names the one the user would look at."""

from __future__ import annotations

import pytest

from tracefix.diagnose.project import Project
from tracefix.errors import UnknownCause
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.pipeline import _diagnose


def event(type_: str, message: str, path: str, line: int) -> Event:
    frames = (Frame(path, "somewhere", line, in_app=True),)
    return Event((ExceptionInfo(type_, message, frames=frames),))


def test_the_first_context_error_is_named_rather_than_the_teardown_error_after_it():
    """A test's context error, then the ``LookupError`` its fixture's ``ctx.pop()`` raised."""
    events = [
        event("RuntimeError", "Working outside of application context.", "lib/odd.py", 3),
        event("LookupError", "<ContextVar name='flask.app_ctx'>", "tests/conftest.py", 28),
    ]
    with pytest.raises(UnknownCause, match=r"^RuntimeError: Working outside .* lib/odd\.py:3 "):
        _diagnose(events, Project({"lib/odd.py": "x = 1\n"}))


def test_without_a_context_error_the_last_event_is_named():
    events = [
        event("KeyError", "'a'", "lib/odd.py", 3),
        event("LookupError", "<ContextVar name='flask.app_ctx'>", "tests/conftest.py", 28),
    ]
    with pytest.raises(UnknownCause, match=r"^LookupError: .* tests/conftest\.py:28 "):
        _diagnose(events, Project({"lib/odd.py": "x = 1\n"}))
