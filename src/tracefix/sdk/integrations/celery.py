"""Celery: task failures through ``task_failure``, and a flush when the worker shuts down.

The signal fires in the worker, in the task's thread, before Celery logs the failure and
clears the traceback's frames (celery/app/trace.py ``handle_failure``), so the locals are
still there. Expected exceptions (a task's ``throws``) are not errors. A prefork child exits
through ``os._exit``, which runs no ``atexit``: ``worker_process_shutdown`` flushes it
(getsentry/sentry-python#295).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk.client import get_client
from tracefix.sdk.client import safe_repr
from tracefix.sdk.integrations import DidNotEnable
from tracefix.sdk.integrations import Integration

try:
    from celery import signals  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - the integration is auto-enabled only with Celery
    raise DidNotEnable("Celery is not installed") from exc

#: Task arguments kept, each as a short repr.
MAX_ARGS = 10


class CeleryIntegration(Integration):
    identifier = "celery"

    @staticmethod
    def setup_once() -> None:
        signals.task_failure.connect(_capture_task_failure, weak=False)
        signals.worker_process_shutdown.connect(_flush, weak=False)
        signals.worker_shutdown.connect(_flush, weak=False)


def _capture_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    **extra: Any,
) -> None:
    client = get_client()
    if client.get_integration(CeleryIntegration.identifier) is None or exception is None:
        return
    with capture_internal_errors():
        expected = tuple(getattr(sender, "throws", None) or ())
        if expected and isinstance(exception, expected):
            return
        client.capture_exception(
            exception,
            mechanism="celery",
            handled=False,
            processor=partial(_add_task, sender, task_id, args, kwargs),
        )


def _add_task(
    sender: Any, task_id: str | None, args: Any, kwargs: Any, event: dict[str, Any]
) -> None:
    name = getattr(sender, "name", None)
    task_args = [safe_repr(value) for value in list(args or ())[:MAX_ARGS]]
    task_kwargs = {
        str(key): safe_repr(value) for key, value in list(dict(kwargs or {}).items())[:MAX_ARGS]
    }
    request = getattr(sender, "request", None)
    context: dict[str, Any] = {
        "type": "celery",
        "task": name,
        "task_id": task_id,
        "args": task_args,
        "kwargs": task_kwargs,
    }
    if request is not None:
        context["retries"] = getattr(request, "retries", None)
        context["hostname"] = getattr(request, "hostname", None)
    event["contexts"]["celery"] = context
    event["extra"]["celery-job"] = {"task_name": name, "args": task_args, "kwargs": task_kwargs}
    event["transaction"] = name


def _flush(**extra: Any) -> None:
    client = get_client()
    if client.get_integration(CeleryIntegration.identifier) is None:
        return
    with capture_internal_errors():
        client.flush(client.options.shutdown_timeout)
