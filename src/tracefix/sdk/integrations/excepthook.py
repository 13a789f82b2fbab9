"""Uncaught exceptions of the main program (scripts, CLI commands): ``sys.excepthook``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType

from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk.client import get_client
from tracefix.sdk.integrations import Integration

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


class ExcepthookIntegration(Integration):
    identifier = "excepthook"

    @staticmethod
    def setup_once() -> None:
        sys.excepthook = _chained(sys.excepthook)


def _chained(previous: ExceptHook) -> ExceptHook:
    def tracefix_excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> object:
        client = get_client()
        # Ctrl-C is not a bug; in an interactive session every typo would be an event.
        if (
            client.get_integration(ExcepthookIntegration.identifier) is not None
            and not issubclass(exc_type, KeyboardInterrupt)
            and not hasattr(sys, "ps1")
        ):
            with capture_internal_errors():
                client.capture_exception(exc, mechanism="excepthook", handled=False)
        return previous(exc_type, exc, tb)

    return tracefix_excepthook
