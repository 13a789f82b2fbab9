"""Send what is queued when the process exits, waiting at most ``shutdown_timeout`` seconds."""

from __future__ import annotations

import atexit

from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk.client import get_client
from tracefix.sdk.integrations import Integration


class AtexitIntegration(Integration):
    identifier = "atexit"

    @staticmethod
    def setup_once() -> None:
        atexit.register(_shutdown)


def _shutdown() -> None:
    client = get_client()
    if client.get_integration(AtexitIntegration.identifier) is None:
        return
    with capture_internal_errors():
        client.close(client.options.shutdown_timeout)
