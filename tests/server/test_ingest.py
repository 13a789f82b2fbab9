"""The ingest endpoints: Sentry's protocol, auth, encodings, limits, quotas, durability."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

import brotli
import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from tracefix.server.models import Event
from tracefix.server.models import Issue
from tracefix.server.projects import create_project

from .conftest import state


def event_payload(event_id: str, message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": message,
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.jobs",
                                "function": "sync",
                                "context_line": "    db.session.commit()",
                                "lineno": 12,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        **extra,
    }


def envelope(*events: dict[str, Any], extra_items: bytes = b"") -> bytes:
    parts = [json.dumps({"event_id": events[0]["event_id"] if events else None}).encode()]
    for event in events:
        body = json.dumps(event).encode()
        parts.append(json.dumps({"type": "event", "length": len(body)}).encode())
        parts.append(body)
    return b"\n".join(parts) + b"\n" + extra_items


@pytest.fixture
def app(make_app: Any) -> Flask:
    made: Flask = make_app()
    return made


@pytest.fixture
def project(app: Flask) -> tuple[int, str]:
    with state(app).db.write_session() as session:
        created = create_project(session, "shop")
        return created.id, created.public_key


def auth(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_client=test/1, sentry_key={key}"}


def stored(app: Flask) -> list[Event]:
    with state(app).db.session() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def test_an_envelope_is_stored_before_the_answer(app: Flask, project: tuple[int, str]) -> None:
    project_id, key = project
    response = app.test_client().post(
        f"/api/{project_id}/envelope/", data=envelope(event_payload("a" * 32)), headers=auth(key)
    )
    assert response.status_code == 200
    assert response.get_json() == {"id": "a" * 32}
    (event,) = stored(app)  # committed when the answer came: no waiting
    assert event.event_id == "a" * 32
    assert json.loads(event.payload)["exception"]["values"][0]["value"] == "boom"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        (None, lambda body: body),
    ],
)
def test_compressed_bodies(
    app: Flask, project: tuple[int, str], encoding: str | None, compress: Any
) -> None:
    project_id, key = project
    headers = auth(key) | ({"Content-Encoding": encoding} if encoding else {})
    response = app.test_client().post(
        f"/api/{project_id}/envelope/",
        data=compress(envelope(event_payload("b" * 32))),
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert [e.event_id for e in stored(app)] == ["b" * 32]


def test_the_key_in_the_query_or_the_envelope_dsn(app: Flask, project: tuple[int, str]) -> None:
    project_id, key = project
    client = app.test_client()
    response = client.post(
        f"/api/{project_id}/store/?sentry_key={key}", data=json.dumps(event_payload("c" * 32))
    )
    assert response.status_code == 200
    body = envelope(event_payload("d" * 32)).split(b"\n", 1)[1]
    header = json.dumps({"dsn": f"http://{key}@localhost/{project_id}"}).encode()
    response = client.post(f"/api/{project_id}/envelope/", data=header + b"\n" + body)
    assert response.status_code == 200
    assert {e.event_id for e in stored(app)} == {"c" * 32, "d" * 32}


def test_an_old_clients_store_body_base64_of_zlib(app: Flask, project: tuple[int, str]) -> None:
    project_id, key = project
    body = base64.b64encode(zlib.compress(json.dumps(event_payload("e" * 32)).encode()))
    response = app.test_client().post(f"/api/{project_id}/store/", data=body, headers=auth(key))
    assert response.status_code == 200
    assert [e.event_id for e in stored(app)] == ["e" * 32]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/{id}/envelope/", {}, 401),
        ("/api/{id}/envelope/", {"X-Sentry-Auth": "Sentry sentry_key=0123"}, 401),
        ("/api/999/envelope/", None, 404),
    ],
)
def test_refused_keys_store_nothing(
    app: Flask, project: tuple[int, str], path: str, headers: dict[str, str] | None, status: int
) -> None:
    project_id, key = project
    response = app.test_client().post(
        path.format(id=project_id),
        data=envelope(event_payload("f" * 32)),
        headers=auth(key) if headers is None else headers,
    )
    assert response.status_code == status
    assert response.get_json()["detail"]
    assert stored(app) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json\n", "malformed envelope"),
        (b'{}\n{"type":"event","length":50}\n{"short":1}\n', "malformed envelope"),
        (b'{}\n{"type":"event"}\n[1, 2]\n', "not a JSON object"),
        (b'{}\n{"type":"event"}\n{"broken":\n', "not JSON"),
    ],
)
def test_malformed_input_is_a_400_with_a_reason(
    app: Flask, project: tuple[int, str], body: bytes, reason: str
) -> None:
    project_id, key = project
    response = app.test_client().post(f"/api/{project_id}/envelope/", data=body, headers=auth(key))
    assert response.status_code == 400
    assert reason in response.get_json()["detail"]
    assert stored(app) == []


def test_bad_compression_is_a_400(app: Flask, project: tuple[int, str]) -> None:
    project_id, key = project
    response = app.test_client().post(
        f"/api/{project_id}/envelope/",
        data=b"this is not gzip",
        headers=auth(key) | {"Content-Encoding": "gzip"},
    )
    assert response.status_code == 400


def test_unknown_item_types_are_accepted_and_ignored(app: Flask, project: tuple[int, str]) -> None:
    project_id, key = project
    extra = b'{"type":"attachment","length":3,"filename":"a.txt"}\nabc\n{"type":"profile"}\n{}\n'
    response = app.test_client().post(
        f"/api/{project_id}/envelope/",
        data=envelope(event_payload("1" * 32), extra_items=extra),
        headers=auth(key),
    )
    assert response.status_code == 200
    assert [e.event_id for e in stored(app)] == ["1" * 32]


def test_over_the_size_limits_is_a_413(make_app: Any) -> None:
    app = make_app(max_body_bytes=4096, max_decoded_bytes=8192, max_event_bytes=2048)
    with state(app).db.write_session() as session:
        created = create_project(session, "small")
        project_id, key = created.id, created.public_key
    client = app.test_client()
    big = event_payload("2" * 32, message="x" * 3000)
    assert (
        client.post(
            f"/api/{project_id}/envelope/", data=envelope(big), headers=auth(key)
        ).status_code
        == 413
    )
    bomb = gzip.compress(b"{}\n" + b" " * 100_000)
    response = client.post(
        f"/api/{project_id}/envelope/", data=bomb, headers=auth(key) | {"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    too_long = b"{}\n" + b"x" * 5000
    assert (
        client.post(f"/api/{project_id}/envelope/", data=too_long, headers=auth(key)).status_code
        == 413
    )
    assert stored(app) == []


def test_over_quota_is_a_429_at_acknowledge_time(make_app: Any) -> None:
    app = make_app(events_per_minute=3)
    with state(app).db.write_session() as session:
        created = create_project(session, "busy")
        project_id, key = created.id, created.public_key
    client = app.test_client()
    answers = [
        client.post(
            f"/api/{project_id}/envelope/",
            data=envelope(event_payload(f"{i:032x}")),
            headers=auth(key),
        )
        for i in range(5)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    limited = answers[3]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-Sentry-Rate-Limits"].endswith("::project:quota_exceeded")
    # Every 200 is a stored event; no 429 is one.
    assert len(stored(app)) == 3


def test_a_retried_event_is_stored_once(app: Flask, project: tuple[int, str]) -> None:
    project_id, key = project
    client = app.test_client()
    for _ in range(2):
        response = client.post(
            f"/api/{project_id}/envelope/",
            data=envelope(event_payload("3" * 32)),
            headers=auth(key),
        )
        assert response.status_code == 200
    assert len(stored(app)) == 1
    assert state(app).jobs.wait_digested(10)  # type: ignore[attr-defined]
    with state(app).db.session() as session:
        assert session.scalar(select(func.sum(Issue.event_count))) == 1
