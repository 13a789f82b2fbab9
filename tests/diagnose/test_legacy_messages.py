"""Older wordings of the context errors are the same causes: every recipe recognises them.

Old Flask (before 0.11) wrote "working outside of application context" in lower case,
Flask-SQLAlchemy 2.x raised its own messages where 3.x reaches Flask's, and Flask 3.2 says
"There is no request in this context." for a request read in an app context without one. Each
recipe's cases are run again with their message swapped for each older wording of the same
family: the diagnosis must not change.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from tracefix.diagnose import diagnose
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.diagnose.signatures import is_context_error
from tracefix.diagnose.signatures import is_request_context_error
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes import RECIPES
from tracefix.testing import case_dirs
from tracefix.testing import load_case

#: As the libraries raise them (first line, then the body some of them have).
LEGACY_APP_MESSAGES = {
    "flask-0.10": "working outside of application context",
    "flask-sqlalchemy-2.0": (
        "application not registered on db instance and no application bound to current context"
    ),
    "flask-sqlalchemy-2.2": (
        "application not registered on db instance and no applicationbound to current context"
    ),
    "flask-sqlalchemy-2.5": (
        "No application found. Either work inside a view function or push an application "
        "context. See http://flask-sqlalchemy.pocoo.org/contexts/."
    ),
    "flask-1.1-url_for": (
        "Attempted to generate a URL without the application context being pushed. This has "
        "to be executed when application context is available."
    ),
    "flask-2.1-render_template": (
        "This function can only be used when an application context is active."
    ),
    "flask-3.2": (
        "Working outside of application context.\n\nAttempted to use functionality that expected "
        "a current application to be set. To solve this, set up an app context using 'with "
        "app.app_context()'. See the documentation on app context for more information."
    ),
}
LEGACY_REQUEST_MESSAGES = {
    "flask-0.10": "working outside of request context",
    "flask-3.2-no-request": "There is no request in this context.",
    "flask-3.2": (
        "Working outside of request context.\n\nAttempted to use functionality that expected "
        "an active HTTP request. See the documentation on request context for more information."
    ),
}


def exception(message: str, type_: str = "RuntimeError") -> ExceptionInfo:
    return ExceptionInfo(type_, message)


@pytest.mark.parametrize("message", LEGACY_APP_MESSAGES.values(), ids=LEGACY_APP_MESSAGES.keys())
def test_legacy_app_messages_are_app_context_errors(message):
    assert is_app_context_error(exception(message))
    assert not is_request_context_error(exception(message))
    assert is_context_error(exception(message))


@pytest.mark.parametrize(
    ("function", "library", "expected"),
    [
        pytest.param("render_template", "flask/templating.py", True, id="render_template"),
        pytest.param("render_template_string", "flask/templating.py", True, id="from a string"),
        pytest.param("render_template", "shop/templating.py", False, id="not Flask's"),
        pytest.param("get", "flask/templating.py", False, id="another function of Flask's"),
    ],
)
def test_flask_before_2_1_rendering_without_an_app_context_is_one(function, library, expected):
    """Flask 2.0 and older read ``_app_ctx_stack.top.app`` in ``render_template``: without an
    app context, an ``AttributeError`` on ``None``."""
    frames = (
        Frame("scripts/report.py", "main", 9, in_app=True),
        Frame(f"/venv/lib/python3.11/site-packages/{library}", function, 136),
    )
    error = ExceptionInfo(
        "AttributeError", "'NoneType' object has no attribute 'app'", frames=frames
    )
    assert is_app_context_error(error) is expected
    assert not is_app_context_error(replace(error, frames=frames[:1]))


@pytest.mark.parametrize(
    "message", LEGACY_REQUEST_MESSAGES.values(), ids=LEGACY_REQUEST_MESSAGES.keys()
)
def test_legacy_request_messages_are_request_context_errors(message):
    assert is_request_context_error(exception(message))
    assert not is_app_context_error(exception(message))
    assert is_context_error(exception(message))


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(
            exception(
                "The current Flask app is not registered with this 'SQLAlchemy' instance. Did "
                "you forget to call 'init_app', or did you create multiple 'SQLAlchemy' "
                "instances?"
            ),
            id="flask-sqlalchemy 3 not registered: another cause, the context is fine",
        ),
        pytest.param(
            exception("Unable to build URLs outside an active request without 'SERVER_NAME'"),
            id="url_for without SERVER_NAME",
        ),
        pytest.param(
            exception("Working outside of application context.", "AssertionError"),
            id="not a RuntimeError",
        ),
        pytest.param(
            exception("Job failed.\nWorking outside of application context."),
            id="only on a later line",
        ),
        pytest.param(
            exception(
                "'copy_current_request_context' can only be used when a request context "
                "is active, such as in a view function."
            ),
            id="helper used outside a request",
        ),
    ],
)
def test_look_alikes_are_not_context_errors(exc):
    assert not is_context_error(exc)


# --- every recipe, over its cases, with the older wordings ---------------------------------


def _cases(family):
    found = []
    for recipe_class in RECIPES:
        for case_dir in case_dirs(sys.modules[recipe_class.__module__].__file__ or ""):
            event = load_case(case_dir).event
            if family(event.exception):
                found.append(pytest.param(case_dir, id=f"{recipe_class.code}-{case_dir.name}"))
    return found


def _with_message(event: Event, message: str) -> Event:
    *earlier, last = event.exceptions
    return replace(event, exceptions=(*earlier, replace(last, value=message)))


def _code(event: Event, project) -> str | None:
    diagnosis = diagnose(event, project)
    return diagnosis.code if diagnosis is not None else None


@pytest.mark.parametrize("case_dir", _cases(is_app_context_error))
@pytest.mark.parametrize("message", LEGACY_APP_MESSAGES.values(), ids=LEGACY_APP_MESSAGES.keys())
def test_app_context_cases_diagnose_the_same_with_legacy_messages(case_dir, message):
    case = load_case(case_dir)
    expected = _code(case.event, case.project)
    assert _code(_with_message(case.event, message), case.project) == expected


@pytest.mark.parametrize("case_dir", _cases(is_request_context_error))
@pytest.mark.parametrize(
    "message", LEGACY_REQUEST_MESSAGES.values(), ids=LEGACY_REQUEST_MESSAGES.keys()
)
def test_request_context_cases_diagnose_the_same_with_legacy_messages(case_dir, message):
    case = load_case(case_dir)
    expected = _code(case.event, case.project)
    assert _code(_with_message(case.event, message), case.project) == expected


def test_there_are_cases_of_both_families():
    assert _cases(is_app_context_error) and _cases(is_request_context_error)
