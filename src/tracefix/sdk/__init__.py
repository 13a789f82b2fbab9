"""tracefix's SDK: capture a production app's exceptions for the fix engine.

    import tracefix
    tracefix.init("https://PUBLIC_KEY@tracefix.example.com/1")

That is all a Flask app, a Celery worker or a script needs. From then on:

- an unhandled Flask request error (``got_request_exception``), a Celery task failure, an
  uncaught exception in a thread or in the main program, and an ``ERROR`` log record with
  ``exc_info`` each become one event, with the frames, source lines and locals of the app's
  own code, the Flask state (contexts, endpoint, method, URL, blueprint) or the Celery task;
- ``INFO`` log records and above become breadcrumbs;
- at exit the queued events are flushed for up to ``shutdown_timeout`` seconds.

A request that succeeds runs no tracefix code at all. A failure inside the SDK is logged at
debug level on the ``tracefix.sdk`` logger and never reaches the app.

``init`` options:

- ``dsn``: ``http(s)://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID``, as Sentry's; default
  ``TRACEFIX_DSN`` or ``SENTRY_DSN`` from the environment. None anywhere: the SDK is disabled
  and every function is a no-op. An invalid DSN raises ``ValueError``.
- ``release``: default ``TRACEFIX_RELEASE``/``SENTRY_RELEASE``, else the commit checked out
  in ``in_app_root``. ``environment``: default ``"production"``. ``server_name``: default
  the host name.
- ``in_app_root``: the project's folder; frames of files under it (outside virtualenvs and
  site-packages) are the app's. Default: the git top level of the working directory, else
  the working directory.
- ``send_default_pii``: send cookies, ``Authorization``-like headers, query string values
  and IP addresses (default False). Secrets are filtered by name and value either way.
- ``before_send(event, hint)``: return the event (changed or not), or None to drop it.
  ``hint["exc_info"]`` is the exception.
- ``integrations``, ``disabled_integrations`` (instances, classes or identifiers),
  ``default_integrations``: see ``tracefix.sdk.integrations``.
- ``include_local_variables``, ``max_breadcrumbs``, ``shutdown_timeout``, ``debug``.
- ``transport``: where events go (a ``Transport``; tests use ``MemoryTransport``). Without
  it, the HTTP transport is built from the DSN and the remaining keyword arguments.
"""

from __future__ import annotations

import sys

from tracefix.sdk import client as client_module
from tracefix.sdk.client import Client
from tracefix.sdk.client import get_client
from tracefix.sdk.client import init
from tracefix.sdk.dsn import Dsn
from tracefix.sdk.dsn import InvalidDsn
from tracefix.sdk.integrations import DidNotEnable
from tracefix.sdk.integrations import Integration
from tracefix.sdk.transport import MemoryTransport
from tracefix.sdk.transport import Transport

__all__ = [
    "Client",
    "DidNotEnable",
    "Dsn",
    "Integration",
    "InvalidDsn",
    "MemoryTransport",
    "Transport",
    "capture_exception",
    "close",
    "flush",
    "get_client",
    "init",
]


def capture_exception(error: BaseException | None = None) -> str | None:
    """Send ``error`` (default: the exception being handled) and return its event id.

    None when the SDK is disabled, there is no exception, it was already sent, or
    ``before_send`` dropped it.
    """
    if error is None:
        error = sys.exc_info()[1]
    return get_client().capture_exception(error)


def flush(timeout: float = 2.0) -> bool:
    """Wait up to ``timeout`` seconds until queued events are sent or spooled; True if none is
    left in memory."""
    return get_client().flush(timeout)


def close(timeout: float = 2.0) -> None:
    """Flush for up to ``timeout`` seconds and disable the SDK (``init`` starts it again)."""
    client_module.close(timeout)
