"""What Flask's context errors look like in an event: messages and library frames.

Flask matches have changed wording across versions (lower case before 0.11, reworded bodies in
3.2), so matching is on the first line only, case-insensitively (docs/context-errors.md §0.1).
Older libraries word the same causes differently, and are matched as the same cause: Flask-
SQLAlchemy 2.x fails with its own message where 3.x reaches Flask's; Flask before 2.2 had one of
``url_for``'s own, and 2.1 one of ``render_template``'s, where 2.0 and older failed on
``None.app`` with an ``AttributeError``; Flask 3.2 says "There is no request in this context."
for a request read in an app context that has no request.
"""

from __future__ import annotations

from tracefix.event import ExceptionInfo
from tracefix.event import Frame

APP_CONTEXT_MESSAGE = "working outside of application context"
REQUEST_CONTEXT_MESSAGE = "working outside of request context"

#: First lines, lower case, that mean "no app context here". Flask before 0.11 wrote Flask's own
#: in lower case. Flask-SQLAlchemy 2.x raised its own when ``db`` had no app (``init_app``
#: style) and no context was pushed: 2.0 to 2.2 the first ("...no application bound to current
#: context"; 2.2 lost the space: "applicationbound"), 2.3 to 2.5 the second. Pushing an app
#: context fixes each. Flask before 2.2 raised its own from ``url_for`` without an app context,
#: and 2.1 its own from ``render_template``.
APP_CONTEXT_MESSAGES = (
    APP_CONTEXT_MESSAGE,
    "attempted to generate a url without the application context being pushed",
    "this function can only be used when an application context is active",
    "application not registered on db instance and no application",
    "no application found. either work inside a view function or push an application context",
)
#: First lines, lower case, that mean "no request here": Flask 3.2 raises the second when an app
#: context is pushed but has no request (``with app.app_context(): request.args``).
REQUEST_CONTEXT_MESSAGES = (REQUEST_CONTEXT_MESSAGE, "there is no request in this context")


#: Where Flask before 2.1 read the app context's stack itself, so that without one it failed
#: on ``None.app`` instead of saying so: ``render_template`` and ``render_template_string``.
STACK_TOP_READERS = (
    ("flask/templating.py", "render_template"),
    ("flask/templating.py", "render_template_string"),
)
NO_STACK_TOP_MESSAGE = "'NoneType' object has no attribute 'app'"


def is_app_context_error(exc: ExceptionInfo) -> bool:
    if exc.type == "AttributeError":
        return (
            exc.first_line == NO_STACK_TOP_MESSAGE
            and bool(exc.frames)
            and any(is_library_frame(exc.frames[-1], *reader) for reader in STACK_TOP_READERS)
        )
    return exc.type == "RuntimeError" and exc.first_line.lower().startswith(APP_CONTEXT_MESSAGES)


def is_request_context_error(exc: ExceptionInfo) -> bool:
    return exc.type == "RuntimeError" and exc.first_line.lower().startswith(
        REQUEST_CONTEXT_MESSAGES
    )


def is_context_error(exc: ExceptionInfo) -> bool:
    return is_app_context_error(exc) or is_request_context_error(exc)


def is_library_frame(frame: Frame, module_suffix: str, function: str) -> bool:
    """Whether ``frame`` is ``function`` in a library file ending with ``module_suffix``.

    ``module_suffix`` is a path such as ``"threading.py"`` or ``"celery/app/trace.py"``; line
    numbers are never compared, since they change between releases.
    """
    path = (frame.abs_path or frame.filename).replace("\\", "/")
    return (
        not frame.in_app
        and frame.function == function
        and (path == module_suffix or path.endswith("/" + module_suffix))
    )
