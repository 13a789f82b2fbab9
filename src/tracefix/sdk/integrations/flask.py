"""Flask: the request errors Flask itself calls unhandled, through ``got_request_exception``.

Only that signal. No request is wrapped, no error handler registered, no response touched:
a request that succeeds runs no tracefix code, a 404 or an ``abort(403)`` is not an error, an
error an ``errorhandler`` answers stays answered, and an unhandled one still gets Flask's
own 500 (bugstack's ``errorhandler(Exception)`` turns 404s into 500s; sentry's WSGI wrapper
costs every request 158 µs: ../shared/docs/sdk-overhead-peers.md).
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk.client import Client
from tracefix.sdk.client import get_client
from tracefix.sdk.client import safe_repr
from tracefix.sdk.integrations import DidNotEnable
from tracefix.sdk.integrations import Integration
from tracefix.sdk.scrubber import FILTERED

try:
    from flask import Flask
    from flask import Request
    from flask import has_request_context
    from flask import request
    from flask.signals import got_request_exception
except ImportError as exc:  # pragma: no cover - the integration is auto-enabled only with Flask
    raise DidNotEnable("Flask is not installed") from exc

#: Request bodies up to this size are sent (parsed form or JSON only, scrubbed).
MAX_BODY = 10 * 1024

#: Headers that identify or authenticate the user: sent only with ``send_default_pii``.
PII_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-csrftoken",
        "x-xsrf-token",
    }
)


class FlaskIntegration(Integration):
    identifier = "flask"

    @staticmethod
    def setup_once() -> None:
        got_request_exception.connect(_capture_request_exception)
        _remember_spawning_requests()


#: The attribute of a thread started during a request that holds that request (see below).
SPAWNED_BY = "_tracefix_spawned_by"


def _remember_spawning_requests() -> None:
    """Give a thread started while a request is handled a note of that request.

    A thread a view starts has no request context, which is the very error tracefix fixes;
    its event then says which request to replay to run the failure again (the server's fix
    job does). A few microseconds per thread started inside a request; nothing otherwise.
    """
    original = threading.Thread.start
    if getattr(original, SPAWNED_BY, False):
        return

    def start(self: threading.Thread) -> None:
        if has_request_context() and (client := get_client()).get_integration("flask"):
            with capture_internal_errors():
                setattr(self, SPAWNED_BY, _spawning_request(client))
        original(self)

    setattr(start, SPAWNED_BY, True)
    threading.Thread.start = start  # type: ignore[method-assign]


def _spawning_request(client: Client) -> dict[str, Any]:
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # a proxy
    url = f"{req.scheme}://{req.host}{req.root_path}{req.path}"
    return {
        "endpoint": req.endpoint,
        "method": req.method,
        "url": url,
        "request": _request_data(req, url, client.options.send_default_pii),
    }


def add_spawning_request(thread: threading.Thread | None, event: dict[str, Any]) -> None:
    """Put the request that started ``thread`` in its event: ``contexts.flask.spawned_by``,
    and ``request`` as sentry-sdk carries its scope into threads."""
    spawned_by = getattr(thread, SPAWNED_BY, None)
    if not isinstance(spawned_by, dict):
        return
    flask_context = event["contexts"].setdefault("flask", {"type": "flask"})
    flask_context["spawned_by"] = {k: v for k, v in spawned_by.items() if k != "request"}
    event.setdefault("request", spawned_by["request"])


def _capture_request_exception(sender: Flask, exception: BaseException, **extra: Any) -> None:
    client = get_client()
    if client.get_integration(FlaskIntegration.identifier) is None:
        return
    with capture_internal_errors():
        client.capture_exception(
            exception,
            mechanism="flask",
            handled=False,
            processor=partial(_add_request, client),
        )


def _add_request(client: Client, event: dict[str, Any]) -> None:
    if not has_request_context():
        return
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # a proxy
    pii = client.options.send_default_pii
    # Not req.base_url: werkzeug turns it into an IRI, 13 µs; this is 2.
    url = f"{req.scheme}://{req.host}{req.root_path}{req.path}"
    url_rule = req.url_rule
    flask_context = event["contexts"].setdefault("flask", {"type": "flask"})
    flask_context.update(
        endpoint=req.endpoint,
        blueprint=req.blueprint,
        method=req.method,
        url=url,
        url_rule=url_rule.rule if url_rule is not None else None,
        view_args={str(k): safe_repr(v) for k, v in (req.view_args or {}).items()},
    )
    event["transaction"] = req.endpoint or req.path
    event["request"] = _request_data(req, url, pii)
    if pii and req.remote_addr:
        event["user"] = {"ip_address": req.remote_addr}


def _request_data(req: Request, url: str, pii: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "url": url,
        "method": req.method,
        "headers": {
            key: value if pii or key.lower() not in PII_HEADERS else FILTERED
            for key, value in req.headers.items()
        },
        "env": {
            "SERVER_NAME": req.environ.get("SERVER_NAME"),
            "SERVER_PORT": req.environ.get("SERVER_PORT"),
        },
    }
    if req.query_string:
        data["query_string"] = (
            req.query_string.decode("latin-1")
            if pii
            else "&".join(f"{key}={FILTERED}" for key, _ in req.args.items(multi=True))
        )
    if pii:
        data["cookies"] = dict(req.cookies)
        data["env"]["REMOTE_ADDR"] = req.remote_addr
    body = _body(req)
    if body is not None:
        data["data"] = body
    return data


def _body(req: Request) -> Any:
    """The parsed form or JSON body when it is small; files by name only, raw bodies never."""
    length = req.content_length
    if not length or length > MAX_BODY:
        return None
    if req.is_json:
        return req.get_json(silent=True)
    if req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body: dict[str, Any] = dict(req.form.items())
        for name, upload in req.files.items():
            body[name] = f"<file {upload.filename!r}>"
        return body
    return None
