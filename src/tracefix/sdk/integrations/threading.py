"""Uncaught exceptions in threads: ``threading.excepthook``, chained to the previous hook.

A hook rather than sentry's patched ``Thread.start``: tracefix does not carry scopes into
threads. The one thing it carries is which request started a thread (noted by the Flask
integration), so that a failure in it can be run again by replaying that request.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk.client import get_client
from tracefix.sdk.integrations import Integration

ThreadHook = Callable[[threading.ExceptHookArgs], object]


class ThreadingIntegration(Integration):
    identifier = "threading"

    @staticmethod
    def setup_once() -> None:
        threading.excepthook = _chained(threading.excepthook)


def _chained(previous: ThreadHook) -> ThreadHook:
    def tracefix_thread_excepthook(args: threading.ExceptHookArgs) -> object:
        client = get_client()
        if (
            client.get_integration(ThreadingIntegration.identifier) is not None
            and args.exc_value is not None
            and not issubclass(args.exc_type, SystemExit)
        ):
            with capture_internal_errors():
                thread = args.thread
                client.capture_exception(
                    args.exc_value,
                    mechanism="threading",
                    handled=False,
                    thread=(thread.name, thread.ident) if thread is not None else None,
                    processor=partial(_add_spawning_request, thread),
                )
        return previous(args)

    return tracefix_thread_excepthook


def _add_spawning_request(thread: threading.Thread | None, event: dict[str, Any]) -> None:
    """The request that started the thread, when the Flask integration noted one."""
    flask = sys.modules.get("tracefix.sdk.integrations.flask")
    if flask is not None:
        flask.add_spawning_request(thread, event)
