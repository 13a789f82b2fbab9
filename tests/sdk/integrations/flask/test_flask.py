"""The Flask integration, on a real app: through ``test_client`` and behind a real HTTP server."""

from __future__ import annotations

import http.client
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from flask import Blueprint  # noqa: E402
from flask import Flask  # noqa: E402
from flask import abort  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from tracefix.sdk import client as client_module  # noqa: E402

from ...conftest import CapturedEvents  # noqa: E402
from ...conftest import TracefixInit  # noqa: E402
from ...conftest import check_event  # noqa: E402

SDK_DIR = str(Path(client_module.__file__).parent)
BUILDER_FILE = client_module.builder.__file__


class HandledError(Exception):
    pass


def create_app() -> Flask:
    app = Flask("shop")
    shop = Blueprint("catalog", __name__, url_prefix="/catalog")

    @app.get("/")
    def index() -> str:
        return "hello"

    @app.route("/boom", methods=["GET", "POST"])
    def boom() -> str:
        basket = {"sku": "A-1", "quantity": 3}
        raise ValueError(f"cannot price {basket['sku']}")

    @app.get("/forbidden")
    def forbidden() -> str:
        abort(403)

    @app.get("/handled")
    def handled() -> str:
        raise HandledError("out of stock")

    @app.errorhandler(HandledError)
    def on_handled(error: HandledError) -> tuple[str, int]:
        return f"sorry: {error}", 409

    @shop.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        raise KeyError(item_id)

    app.register_blueprint(shop)
    return app


@pytest.fixture
def app() -> Flask:
    return create_app()


def requests_to_compare(app: Flask) -> list[tuple[int, bytes, str | None]]:
    client = app.test_client()
    answers = []
    for path in ("/", "/boom", "/nope", "/forbidden", "/handled", "/catalog/items/7"):
        response = client.get(path)
        answers.append((response.status_code, response.data, response.content_type))
    return answers


# --- what is captured -----------------------------------------------------------------------


def test_an_unhandled_error_is_captured_with_flask_state(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    response = app.test_client().get("/boom?page=2&coupon=WELCOME", headers={"X-Shop": "eu"})
    assert response.status_code == 500

    (event,) = captured_events()
    (value,) = event["exception"]["values"]
    assert value["type"] == "ValueError"
    assert value["mechanism"] == {"type": "flask", "handled": False}
    view = value["stacktrace"]["frames"][-1]
    assert view["function"] == "boom"
    assert view["in_app"] is True
    assert view["vars"] == {"basket": "{'sku': 'A-1', 'quantity': 3}"}
    assert all("vars" not in frame for frame in value["stacktrace"]["frames"][:-1])
    flask_context = event["contexts"]["flask"]
    assert flask_context["app_context"] is True
    assert flask_context["request_context"] is True
    assert flask_context["app"] == "shop"
    assert flask_context["endpoint"] == "boom"
    assert flask_context["method"] == "GET"
    assert flask_context["url"] == "http://localhost/boom"
    assert flask_context["blueprint"] is None
    assert event["transaction"] == "boom"
    assert event["request"]["url"] == "http://localhost/boom"
    assert event["request"]["method"] == "GET"
    assert event["request"]["query_string"] == "page=[Filtered]&coupon=[Filtered]"
    assert event["request"]["headers"]["X-Shop"] == "eu"
    assert "user" not in event

    parsed = check_event(event)
    assert parsed.flask is not None
    assert (parsed.flask.app_context, parsed.flask.request_context) == (True, True)
    assert parsed.flask.app == "shop"
    assert (parsed.flask.endpoint, parsed.flask.method) == ("boom", "GET")
    assert parsed.flask.url == "http://localhost/boom"
    assert parsed.trigger_frame().function == "boom"  # type: ignore[union-attr]


def test_a_blueprint_route(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    assert app.test_client().get("/catalog/items/7").status_code == 500
    (event,) = captured_events()
    flask_context = event["contexts"]["flask"]
    assert flask_context["endpoint"] == "catalog.item"
    assert flask_context["blueprint"] == "catalog"
    assert flask_context["url_rule"] == "/catalog/items/<int:item_id>"
    assert flask_context["view_args"] == {"item_id": "7"}
    assert event["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"] == {"item_id": "7"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/nope", 404, id="404"),
        pytest.param("/forbidden", 403, id="abort(403)"),
        pytest.param("/handled", 409, id="handled by an errorhandler"),
        pytest.param("/", 200, id="success"),
    ],
)
def test_what_is_not_an_error_is_not_captured(
    app: Flask,
    tracefix_init: TracefixInit,
    captured_events: CapturedEvents,
    path: str,
    status: int,
) -> None:
    tracefix_init()
    assert app.test_client().get(path).status_code == status
    assert captured_events() == []


def test_responses_are_the_same_with_and_without_the_sdk(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    without = requests_to_compare(create_app())
    tracefix_init()
    with_sdk = requests_to_compare(create_app())
    assert with_sdk == without
    assert [status for status, _, _ in with_sdk] == [200, 500, 404, 403, 409, 500]
    assert len(captured_events()) == 2


def test_the_app_is_left_as_it_was(app: Flask, tracefix_init: TracefixInit) -> None:
    before = (
        dict(app.error_handler_spec),
        dict(app.before_request_funcs),
        dict(app.after_request_funcs),
        dict(app.teardown_request_funcs),
        Flask.__call__,
        Flask.wsgi_app,
    )
    tracefix_init()
    after = (
        dict(app.error_handler_spec),
        dict(app.before_request_funcs),
        dict(app.after_request_funcs),
        dict(app.teardown_request_funcs),
        Flask.__call__,
        Flask.wsgi_app,
    )
    assert after == before


def test_no_tracefix_code_runs_on_the_success_path(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    client = app.test_client()
    client.get("/")  # warm up
    ran: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(SDK_DIR) or filename == BUILDER_FILE:
                ran.append(f"{filename}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        for _ in range(50):
            assert client.get("/").status_code == 200
    finally:
        sys.setprofile(None)
    assert ran == []
    assert captured_events() == []


def test_flasks_own_log_of_the_error_is_not_a_second_event(
    app: Flask,
    tracefix_init: TracefixInit,
    captured_events: CapturedEvents,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    builds: list[Any] = []
    build_event = client_module.builder.build_event
    monkeypatch.setattr(
        client_module.builder,
        "build_event",
        lambda *a, **k: builds.append(a) or build_event(*a, **k),
    )
    tracefix_init()
    with caplog.at_level(logging.ERROR):
        app.test_client().get("/boom")
    assert "Exception on /boom [GET]" in caplog.text  # Flask logged it, with the traceback
    assert len(captured_events()) == 1
    assert captured_events()[0]["exception"]["values"][0]["mechanism"]["type"] == "flask"
    assert len(builds) == 1  # and built it once (getsentry/sentry-python#4365)


def test_a_disabled_integration_does_nothing(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init(disabled_integrations=["flask", "logging"])
    assert app.test_client().get("/boom").status_code == 500
    assert captured_events() == []


# --- request data and privacy ---------------------------------------------------------------


def test_request_data_without_pii(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    client = app.test_client()
    client.set_cookie("session", "s3cr3t")
    client.post(
        "/boom?token=abc",
        json={"email": "ann@example.com", "password": "hunter2", "items": [1, 2]},
        headers={
            "Authorization": "Bearer abc.def.ghi",
            "X-Forwarded-For": "203.0.113.7",
            "User-Agent": "pytest",
        },
    )
    (event,) = captured_events()
    req = event["request"]
    assert req["method"] == "POST"
    assert req["query_string"] == "token=[Filtered]"
    assert req["headers"]["Authorization"] == "[Filtered]"
    assert req["headers"]["Cookie"] == "[Filtered]"
    assert req["headers"]["X-Forwarded-For"] == "[Filtered]"
    assert req["headers"]["User-Agent"] == "pytest"
    assert "cookies" not in req
    assert "REMOTE_ADDR" not in req["env"]
    assert req["data"] == {"email": "ann@example.com", "password": "[Filtered]", "items": [1, 2]}
    assert "user" not in event
    assert "s3cr3t" not in json.dumps(event)
    assert "hunter2" not in json.dumps(event)


def test_request_data_with_pii(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init(send_default_pii=True)
    client = app.test_client()
    client.set_cookie("theme", "dark")
    client.post(
        "/boom?page=2",
        data={"name": "Ann", "password": "hunter2"},
        headers={"Authorization": "Basic YW5uOmh1bnRlcjI="},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    (event,) = captured_events()
    req = event["request"]
    assert req["query_string"] == "page=2"
    assert req["cookies"] == {"theme": "dark"}
    assert req["headers"]["Cookie"] == "theme=dark"
    # The header is sent, the credential in it is not: secrets go whatever the PII setting.
    assert req["headers"]["Authorization"] == "Basic [Filtered]"
    assert req["env"]["REMOTE_ADDR"] == "203.0.113.7"
    assert event["user"] == {"ip_address": "203.0.113.7"}
    assert req["data"] == {"name": "Ann", "password": "[Filtered]"}


def test_large_bodies_are_not_sent(
    app: Flask, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    app.test_client().post("/boom", json={"blob": "x" * 20_000})
    assert "data" not in captured_events()[0]["request"]


# --- behind a real HTTP server --------------------------------------------------------------


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=httpd.serve_forever, name="http-server", daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def http_get(address: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_behind_a_real_http_server(
    server: str, tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    without = [http_get(server, path) for path in ("/", "/boom", "/nope", "/forbidden")]
    tracefix_init()
    with_sdk = [http_get(server, path) for path in ("/", "/boom", "/nope", "/forbidden")]
    assert with_sdk == without
    assert [status for status, _ in with_sdk] == [200, 500, 404, 403]

    (event,) = captured_events()
    assert event["request"]["url"] == f"http://{server}/boom"
    assert event["contexts"]["flask"]["endpoint"] == "boom"
    assert event["contexts"]["flask"]["request_context"] is True
    assert event["threads"]["values"][0]["name"] == "http-server"


# --- a thread a view started -----------------------------------------------------------------


@pytest.fixture
def quiet_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK chains to the hook in place; this one keeps pytest from reporting the error."""
    monkeypatch.setattr(threading, "excepthook", lambda args: None)


@pytest.mark.usefixtures("quiet_threads")
def test_a_thread_started_by_a_view_carries_the_request_that_started_it(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    """The server replays that request to run the thread's failure again."""
    app = Flask("mailer")
    started: list[threading.Thread] = []

    def send_welcome(email: str) -> None:
        raise RuntimeError("Working outside of application context.")

    @app.post("/signup")
    def signup() -> tuple[str, int]:
        thread = threading.Thread(target=send_welcome, args=("ada@example.com",))
        thread.start()
        started.append(thread)
        return "", 201

    tracefix_init()
    response = app.test_client().post("/signup?ref=home", data={"plan": "free"})
    assert response.status_code == 201
    started[0].join(10)

    (event,) = captured_events()
    spawned_by = event["contexts"]["flask"]["spawned_by"]
    assert spawned_by == {
        "endpoint": "signup",
        "method": "POST",
        "url": "http://localhost/signup",
    }
    assert event["contexts"]["flask"]["request_context"] is False
    assert event["request"]["method"] == "POST"
    assert event["request"]["data"] == {"plan": "free"}
    assert event["request"]["query_string"] == "ref=[Filtered]"


@pytest.mark.usefixtures("quiet_threads")
def test_a_thread_started_outside_a_request_carries_no_request(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    def fail() -> None:
        raise ValueError("no request here")

    tracefix_init()
    thread = threading.Thread(target=fail)
    thread.start()
    thread.join(10)

    (event,) = captured_events()
    assert "spawned_by" not in event["contexts"].get("flask", {})
    assert "request" not in event
