"""The ingest endpoints, Sentry-compatible: ``POST /api/<project>/envelope/`` and ``/store/``.

An answer of ``200`` means the events are committed (``Intake.store`` returned). The order of
refusals: unknown project or key (``401``/``404``), body too large (``413``), malformed
(``400``), over quota (``429`` with ``Retry-After`` and ``X-Sentry-Rate-Limits``), storage down
(``503``: the SDK keeps the event and retries).

They are served by a plain WSGI callable in front of the Flask app (``IngestEndpoints``, put
in place when the ``ingest`` blueprint is registered), not by Flask views: Flask's request
machinery (request context, URL matching, before- and after-request hooks, sessions, response
object) costs about 250 µs a request, as much as parsing an 8 KiB event, and ingest is the one
path that must take a thousand requests a second in one process. Every other path goes on to
Flask unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint
from flask import Flask
from flask.sansio.blueprints import BlueprintSetupState
from sqlalchemy import select
from werkzeug.wsgi import get_input_stream

from tracefix.server.ingest.intake import IntakeUnavailable
from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.ingest.protocol import IngestError
from tracefix.server.ingest.protocol import Limits
from tracefix.server.ingest.protocol import decode_body
from tracefix.server.ingest.protocol import key_from_dsn
from tracefix.server.ingest.protocol import parse_envelope_body
from tracefix.server.ingest.protocol import parse_store_body
from tracefix.server.ingest.protocol import public_key
from tracefix.server.models import Project
from tracefix.server.web.state import ServerState

logger = logging.getLogger("tracefix.server")

ingest = Blueprint("ingest", __name__)

#: Seconds a project's key and quota are cached: a key change takes effect within this.
PROJECT_CACHE_SECONDS = 10.0
_INGEST_PATH = re.compile(r"/api/([0-9]+)/(envelope|store)/")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    503: "Service Unavailable",
}

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class _ProjectKey:
    public_key: str
    events_per_minute: int | None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


_projects: dict[int, tuple[float, _ProjectKey | None]] = {}
_projects_lock = threading.Lock()


@ingest.record_once
def _serve_ingest_in_front(setup: BlueprintSetupState) -> None:
    app = setup.app
    assert isinstance(app, Flask)
    app.wsgi_app = IngestEndpoints(app, app.wsgi_app)  # type: ignore[method-assign]


class IngestEndpoints:
    """The WSGI app of the ingest endpoints; any other request goes to ``next_app``."""

    def __init__(self, app: Flask, next_app: WSGIApp) -> None:
        self.app = app
        self.next_app = next_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        matched = _INGEST_PATH.fullmatch(environ.get("PATH_INFO") or "")
        if matched is None:
            return self.next_app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            answer = _refusal(405, "only POST", ("Allow", "POST"))
        else:
            state: ServerState = self.app.extensions["tracefix"]
            answer = _ingest(state, int(matched[1]), matched[2] == "envelope", environ)
        body = json.dumps(answer.body, separators=(",", ":")).encode() + b"\n"
        start_response(
            f"{answer.status} {_REASONS.get(answer.status, '')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *answer.headers,
            ],
        )
        return [body]


def _ingest(
    state: ServerState, project_id: int, envelope: bool, environ: dict[str, Any]
) -> _Answer:
    config = state.config
    try:
        project = _project(state, project_id)
        if project is None:
            raise IngestError(404, f"no project {project_id}")
        key = public_key(
            (environ.get("HTTP_X_SENTRY_AUTH"), environ.get("HTTP_AUTHORIZATION")),
            _query_key(environ.get("QUERY_STRING") or ""),
        )
        body = _read_body(environ, config.max_body_bytes)
        body = decode_body(body, environ.get("HTTP_CONTENT_ENCODING"), config.max_decoded_bytes)
        limits = Limits(config.max_decoded_bytes, config.max_event_bytes)
        events: list[IncomingEvent]
        if envelope:
            envelope_headers, events = parse_envelope_body(body, limits)
            key = key or key_from_dsn(envelope_headers.get("dsn"))
        else:
            events = [parse_store_body(body, limits)]
        if key is None:
            raise IngestError(401, "missing the DSN's public key (X-Sentry-Auth or sentry_key)")
        if key != project.public_key:
            raise IngestError(401, "the public key does not belong to this project")
        quota = project.events_per_minute or config.events_per_minute
        wait = state.quotas.take(project_id, quota, len(events))
        if wait is not None:
            return _rate_limited(wait)
        state.intake.store(project_id, events)
    except IngestError as exc:
        return _refusal(exc.status, exc.reason)
    except IntakeUnavailable as exc:
        return _refusal(503, str(exc), ("Retry-After", "5"))
    return _Answer(200, {"id": events[0].event_id if events else None})


def _query_key(query: str) -> str | None:
    if "sentry_key" not in query:
        return None
    values = parse_qs(query).get("sentry_key")
    return values[0] if values else None


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > limit:
        raise IngestError(413, f"the body is over {limit} bytes")
    body: bytes = get_input_stream(environ, max_content_length=None).read(limit + 1)
    if len(body) > limit:
        raise IngestError(413, f"the body is over {limit} bytes")
    return body


def _project(state: ServerState, project_id: int) -> _ProjectKey | None:
    now = time.monotonic()
    cached = _projects.get(project_id)
    if cached is not None and now - cached[0] < PROJECT_CACHE_SECONDS:
        return cached[1]
    with state.db.session() as session:
        row = session.execute(
            select(Project.public_key, Project.events_per_minute).where(Project.id == project_id)
        ).first()
    found = None if row is None else _ProjectKey(row.public_key, row.events_per_minute)
    with _projects_lock:
        _projects[project_id] = (now, found)
    return found


def forget_cached_projects() -> None:
    with _projects_lock:
        _projects.clear()


def _refusal(status: int, reason: str, *headers: tuple[str, str]) -> _Answer:
    logger.debug("ingest refused (%d): %s", status, reason)
    return _Answer(status, {"detail": reason}, headers)


def _rate_limited(seconds: float) -> _Answer:
    retry = str(int(seconds))
    # develop.sentry.dev/sdk/expected-features/rate-limiting/: no categories means all of them.
    return _refusal(
        429,
        "over the project's event quota",
        ("Retry-After", retry),
        ("X-Sentry-Rate-Limits", f"{retry}::project:quota_exceeded"),
    )
