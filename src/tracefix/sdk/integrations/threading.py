"""Uncaught exceptions in threads: ``threading.excepthook``, chained to the previous hook.

A hook rather than sentry's patched ``Thread.start``: tracefix only captures, it does not
carry scopes into threads, so it needs nothing per thread started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

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
                )
        return previous(args)

    return tracefix_thread_excepthook
