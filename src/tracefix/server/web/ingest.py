"""The ingest endpoints, Sentry-compatible: ``POST /api/<project>/envelope/`` and ``/store/``.

An answer of ``200`` means the events are committed (``Intake.store`` returned). The order of
refusals: unknown project or key (``401``/``404``), body too large (``413``), malformed
(``400``), over quota (``429`` with ``Retry-After`` and ``X-Sentry-Rate-Limits``), storage down
(``503``: the SDK keeps the event and retries).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from sqlalchemy import select

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
from tracefix.server.web.state import server_state

ingest = Blueprint("ingest", __name__)

#: Seconds a project's key and quota are cached: a key change takes effect within this.
PROJECT_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class _ProjectKey:
    public_key: str
    events_per_minute: int | None


_projects: dict[int, tuple[float, _ProjectKey | None]] = {}
_projects_lock = threading.Lock()


@ingest.post("/api/<int:project_id>/envelope/")
def envelope(project_id: int) -> Response:
    return _ingest(project_id, envelope=True)


@ingest.post("/api/<int:project_id>/store/")
def store(project_id: int) -> Response:
    return _ingest(project_id, envelope=False)


def _ingest(project_id: int, *, envelope: bool) -> Response:
    state = server_state()
    config = state.config
    try:
        project = _project(project_id)
        if project is None:
            raise IngestError(404, f"no project {project_id}")
        headers = request.headers
        key = public_key(
            (headers.get("X-Sentry-Auth"), headers.get("Authorization")),
            request.args.get("sentry_key"),
        )
        body = _read_body(config.max_body_bytes)
        body = decode_body(body, request.headers.get("Content-Encoding"), config.max_decoded_bytes)
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
        return _refusal(503, str(exc))
    return jsonify(id=events[0].event_id if events else None)


def _read_body(limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise IngestError(413, f"the body is over {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise IngestError(413, f"the body is over {limit} bytes")
    return body


def _project(project_id: int) -> _ProjectKey | None:
    now = time.monotonic()
    cached = _projects.get(project_id)
    if cached is not None and now - cached[0] < PROJECT_CACHE_SECONDS:
        return cached[1]
    with server_state().db.session() as session:
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


def _refusal(status: int, reason: str) -> Response:
    response = jsonify(detail=reason)
    response.status_code = status
    if status >= 500:
        response.headers["Retry-After"] = "5"
    current_app.logger.debug("ingest refused (%d): %s", status, reason)
    return response


def _rate_limited(seconds: float) -> Response:
    response = _refusal(429, "over the project's event quota")
    retry = str(int(seconds))
    response.headers["Retry-After"] = retry
    # develop.sentry.dev/sdk/expected-features/rate-limiting/: no categories means all of them.
    response.headers["X-Sentry-Rate-Limits"] = f"{retry}::project:quota_exceeded"
    return response
