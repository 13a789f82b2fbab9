"""The SDK against a real Bugsink server: its envelopes are accepted, stored and shown as issues.

Issue 4 asks that what the SDK sends be accepted by a Sentry-compatible server. Bugsink is one
that runs here without Docker: a Django app on PyPI. It is a server with heavy dependencies, so
it lives in a venv of its own, never in the project's. ``make test`` builds it
(``.venv-bugsink``) and points ``TRACEFIX_BUGSINK_PYTHON`` at its python; by hand:

    python3 -m venv /tmp/bugsink-venv && /tmp/bugsink-venv/bin/pip install bugsink
    TRACEFIX_BUGSINK_PYTHON=/tmp/bugsink-venv/bin/python .venv/bin/python -m pytest tests/sdk/compat

Without it the tests skip, except under ``CI``, where a missing Bugsink fails them.

The server is set up as Bugsink's single-server guide does it (``bugsink-create-conf
--template=singleserver``, both databases migrated, gunicorn in front, the ``snappea`` worker
digesting in the background), in a temporary folder with its own SQLite databases, on a free
loopback port over plain HTTP. Two settings are stricter than its defaults:
``VALIDATE_ON_DIGEST = "strict"`` (every event is checked against Sentry's event JSON schema,
and one that fails is not stored) and ``KEEP_ENVELOPES`` (the raw envelopes are kept, so the
tests can look at the ``client_report`` items that Bugsink accepts and ignores).

The app is ``bugsink_app.py`` in a real subprocess, over the real HTTP transport (gzip, keep-alive,
``X-Sentry-Auth``, disk spool); what Bugsink stored is read through its own Django ORM
(``bugsink-manage shell``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracefix.sdk.envelope import parse_envelope

HERE = Path(__file__).resolve().parent
APP = HERE / "bugsink_app.py"
BUGSINK_PYTHON = os.environ.get("TRACEFIX_BUGSINK_PYTHON", "")


def _bugsink_missing() -> str | None:
    if not BUGSINK_PYTHON:
        return (
            "TRACEFIX_BUGSINK_PYTHON is not set: point it at the python of a venv with "
            "`pip install bugsink` to test the SDK against a real Bugsink (see docs/sdk.md)"
        )
    try:
        subprocess.run(
            [BUGSINK_PYTHON, "-c", "import bugsink, gunicorn"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"TRACEFIX_BUGSINK_PYTHON={BUGSINK_PYTHON} cannot import bugsink: {exc}"
    return None


_missing = _bugsink_missing()
if _missing is not None and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the Bugsink compatibility tests: {_missing}")
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")

#: Appended to the single-server configuration: plain HTTP on loopback, no proxy in front, one
#: digest worker (a shared 2-core machine), nothing sent to bugsink.com, strict validation.
SETTINGS = """
BUGSINK["BASE_URL"] = "http://127.0.0.1:{port}"
ALLOWED_HOSTS = deduce_allowed_hosts(BUGSINK["BASE_URL"])
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
USE_X_REAL_IP = False
SNAPPEA["NUM_WORKERS"] = 1
BUGSINK["PHONEHOME"] = False
BUGSINK["VALIDATE_ON_DIGEST"] = "strict"
BUGSINK["KEEP_ENVELOPES"] = 1000
"""

#: Prints a project's DSN, creating the project (and its team) when needed.
CREATE_PROJECT = """
import json
from teams.models import Team
from projects.models import Project
team, _ = Team.objects.get_or_create(name="tracefix")
project, _ = Project.objects.get_or_create(name={name!r}, slug={name!r}, team=team)
print(json.dumps(project.dsn))
"""

#: Prints what Bugsink stored for a project: its issues and their events, as parsed by Bugsink.
STORED = """
import json
from events.models import Event
from projects.models import Project
project = Project.objects.get(slug={name!r})
events = []
for event in Event.objects.filter(project=project).order_by("digested_at"):
    events.append({{
        "event_id": event.event_id.hex,
        "issue": str(event.issue_id),
        "issue_type": event.issue.calculated_type,
        "issue_value": event.issue.calculated_value,
        "type": event.calculated_type,
        "value": event.calculated_value,
        "transaction": event.transaction,
        "last_frame_function": event.last_frame_function,
        "release": event.release,
        "environment": event.environment,
        "sdk_name": event.sdk_name,
        "level": event.level,
        "data": event.get_parsed_data(),
    }})
print(json.dumps(events))
"""

#: Prints the raw envelopes Bugsink kept for a project (hex, decompressed as it read them), each
#: with what Bugsink's strict header validators say of it: on ingest it silently drops a header
#: that fails them (``sent_at``, ``dsn``, ``event_id``, ``sdk``), so a 200 alone does not tell.
ENVELOPES = """
import io
import json
from ingest.header_validators import validate_envelope_headers, validate_item_headers
from ingest.models import Envelope
from ingest.parsers import StreamingEnvelopeParser
kept = []
for envelope in Envelope.objects.filter(project_pk={pk}).order_by("id"):
    data = bytes(envelope.data)
    try:
        validate_envelope_headers(json.loads(data.split(b"\\n", 1)[0]))
        parser = StreamingEnvelopeParser(io.BytesIO(data))
        for headers, _ in parser.get_items_directly():
            validate_item_headers(headers)
        error = None
    except Exception as exc:
        error = repr(exc)
    kept.append((data.hex(), error))
print(json.dumps(kept))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bugsink:
    """One Bugsink installation in ``root``: gunicorn (restartable, for outages) and snappea."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bugsink_conf",
            "PYTHONPATH": str(root),
            "PYTHONUNBUFFERED": "1",
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            [BUGSINK_PYTHON, *args],
            cwd=self.root,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def manage(self, *args: str, stdin: str | None = None) -> str:
        return self.run("-m", "bugsink.scripts.manage", *args, stdin=stdin)

    def query(self, code: str) -> Any:
        """Run ``code`` in Bugsink's Django shell; its last printed line, as JSON."""
        out = self.manage("shell", "--no-imports", stdin=code)
        return json.loads(out.strip().splitlines()[-1])

    def set_up(self) -> None:
        conf = self.root / "bugsink_conf.py"
        self.run(
            "-m",
            "bugsink.scripts.create_conf",
            "--template=singleserver",
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--base-dir={self.root}",
            f"--output-file={conf}",
        )
        conf.write_text(conf.read_text() + SETTINGS.format(port=self.port))
        self.manage("migrate", "--verbosity=0")
        self.manage("migrate", "snappea", "--database=snappea", "--verbosity=0")
        self.worker = self._spawn("worker", "-m", "bugsink.scripts.runsnappea")
        self.start_web()

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # the child keeps its own copy
        try:
            return subprocess.Popen(
                [BUGSINK_PYTHON, *args],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def start_web(self) -> None:
        self.web = self._spawn(
            "web",
            "-m",
            "gunicorn",
            f"--bind=127.0.0.1:{self.port}",
            "--workers=1",
            "--no-control-socket",
            "--access-logfile=-",
            "bugsink.wsgi",
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                if self.web.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not start: {self.log('web')}") from None
                time.sleep(0.2)

    def stop_web(self) -> None:
        _stop(self.web)
        self.web = None

    def stop(self) -> None:
        _stop(self.web)
        _stop(self.worker)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def project(self, name: str) -> str:
        """A new project's DSN."""
        dsn: str = self.query(CREATE_PROJECT.format(name=name))
        return dsn

    def stored(self, name: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """The project's events once ``count`` are digested (snappea digests after the 200)."""
        deadline = time.monotonic() + timeout
        while True:
            events: list[dict[str, Any]] = self.query(STORED.format(name=name))
            if len(events) >= count or time.monotonic() > deadline:
                return events
            time.sleep(1)

    def envelopes(self, dsn: str) -> list[tuple[bytes, str | None]]:
        """The kept envelopes of the DSN's project, each with its header validation error."""
        pk = int(dsn.rstrip("/").rsplit("/", 1)[1])
        return [(bytes.fromhex(data), error) for data, error in self.query(ENVELOPES.format(pk=pk))]


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="module")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bugsink]:
    server = Bugsink(tmp_path_factory.mktemp("bugsink"))
    try:
        server.set_up()
        yield server
    finally:
        server.stop()


def run_app(*args: str, timeout: float = 90) -> dict[str, Any]:
    """``bugsink_app.py`` in a subprocess with the project's python; its JSON result."""
    done = subprocess.run(
        [sys.executable, str(APP), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k not in ("TRACEFIX_DSN", "SENTRY_DSN")},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def in_app_frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        frame
        for value in event["data"]["exception"]["values"]
        for frame in value["stacktrace"]["frames"]
        if frame.get("in_app")
    ]


def test_errors_from_flask_a_thread_and_capture_exception_are_stored_as_issues(
    bugsink: Bugsink, tmp_path: Path
) -> None:
    dsn = bugsink.project("tracefix-app")
    result = run_app("send", dsn, str(tmp_path / "spool"))

    assert result["statuses"] == [500]  # the Flask integration never changes a response
    assert result["flushed"] is True
    assert result["sent"] == 3 and result["failures"] == 0
    assert result["dropped"] == {"before_send:error": 1}  # nothing lost but what we dropped

    events = bugsink.stored("tracefix-app", 3)
    web_log = bugsink.log("web")
    assert len(events) == 3, f"{events}\n{web_log}\n{bugsink.log('worker')}"
    assert len({e["issue"] for e in events}) == 3
    by_type = {e["type"]: e for e in events}
    assert set(by_type) == {"LookupError", "RuntimeError", "ValueError"}
    for event in events:
        assert event["sdk_name"] == "tracefix.python"
        assert event["release"] == "compat@1.0"
        assert event["environment"] == "bugsink-compat"
        assert event["level"] == "error"

    # The Flask error: the chain (IndexError, then the LookupError raised from it), the
    # request, the endpoint as the transaction, in-app frames with source lines and locals.
    flask_error = by_type["LookupError"]
    assert flask_error["value"] == "no line 5 for acme"
    assert flask_error["transaction"] == "invoice"
    values = flask_error["data"]["exception"]["values"]
    assert [v["type"] for v in values] == ["IndexError", "LookupError"]
    assert flask_error["data"]["request"]["url"].endswith("/invoice/5")
    assert flask_error["data"]["request"]["method"] == "GET"
    frames = {f["function"]: f for f in in_app_frames(flask_error)}
    assert {"invoice", "load_invoice"} <= set(frames)
    load = frames["load_invoice"]
    assert load["filename"] == "tests/sdk/compat/bugsink_app.py"  # relative to the in-app root
    assert load["abs_path"] == str(APP)
    assert load["context_line"].strip() == "return lines[invoice_id]"
    assert load["pre_context"] and load["post_context"]
    assert load["vars"]["invoice_id"] == "5"
    assert "café" in load["vars"]["lines"]
    assert "..." in load["vars"]["recursive"]  # a recursive list, shown, not fatal
    assert "odd" in load["vars"] and "huge" in load["vars"]
    assert frames["invoice"]["vars"]["customer"] == "'acme'"

    thread_error = by_type["RuntimeError"]
    assert thread_error["value"] == "batch of 7 failed — ünïcode"
    assert thread_error["data"]["exception"]["values"][-1]["mechanism"]["type"] == "threading"
    assert thread_error["data"]["threads"]["values"][0]["name"] == "batch-worker"
    job = {f["function"]: f for f in in_app_frames(thread_error)}["batch_job"]
    assert job["vars"]["batch_size"] == "7"

    captured = by_type["ValueError"]
    assert captured["event_id"] == result["ids"][0]
    assert captured["data"]["exception"]["values"][-1]["mechanism"]["handled"] is True

    # Every POST was a 200, and the client report of the dropped event reached Bugsink in a
    # well-formed envelope (Bugsink reads and ignores it).
    posts = [line for line in web_log.splitlines() if "POST /api/" in line]
    assert posts and all('" 200 ' in line for line in posts), posts
    envelopes = bugsink.envelopes(dsn)
    assert len(envelopes) == 3
    assert [error for _, error in envelopes] == [None] * 3
    for data, _ in envelopes:
        headers = parse_envelope(data).headers
        assert set(headers) == {"event_id", "sent_at", "dsn", "sdk"}
        assert headers["dsn"] == dsn
    reports = [
        item.json()
        for data, _ in envelopes
        for item in parse_envelope(data).items
        if item.type == "client_report"
    ]
    discarded = [d for r in reports for d in r["discarded_events"]]
    assert discarded == [{"reason": "before_send", "category": "error", "quantity": 1}]


def test_errors_spooled_during_an_outage_are_stored_after_the_next_start(
    bugsink: Bugsink, tmp_path: Path
) -> None:
    dsn = bugsink.project("tracefix-outage")
    spool = str(tmp_path / "spool")
    bugsink.stop_web()
    try:
        offline = run_app("offline", dsn, spool)
    finally:
        bugsink.start_web()
    assert offline["sent"] == 0 and offline["spooled"] == 3
    assert len(list(Path(spool).iterdir())) >= 3

    drained = run_app("drain", dsn, spool, "3")
    assert drained["sent"] == 3

    events = bugsink.stored("tracefix-outage", 3)
    assert sorted(e["value"] for e in events) == [f"outage error {n}" for n in range(3)]
    assert sorted(e["event_id"] for e in events) == sorted(offline["ids"])
