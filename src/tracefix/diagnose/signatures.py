"""What Flask's context errors look like in an event: messages and library frames.

Flask matches have changed wording across versions (lower case before 0.11, reworded bodies in
3.2), so matching is on the first line only, case-insensitively (docs/context-errors.md §0.1).
"""

from __future__ import annotations

from tracefix.event import ExceptionInfo
from tracefix.event import Frame

APP_CONTEXT_MESSAGE = "working outside of application context"
REQUEST_CONTEXT_MESSAGE = "working outside of request context"


def is_app_context_error(exc: ExceptionInfo) -> bool:
    return exc.type == "RuntimeError" and exc.first_line.lower().startswith(APP_CONTEXT_MESSAGE)


def is_request_context_error(exc: ExceptionInfo) -> bool:
    return exc.type == "RuntimeError" and exc.first_line.lower().startswith(REQUEST_CONTEXT_MESSAGE)


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
