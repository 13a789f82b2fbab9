"""Scripts and CLI commands: ``sys.excepthook``, and the flush at exit. Real subprocesses.

A subprocess's memory cannot be read, so its events go to a file (``FileTransport``, through
``init(transport=...)``) or over HTTP to a receiver on loopback.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tracefix.event import Event

from ...file_transport import HERE as FILE_TRANSPORT_DIR
from ...file_transport import read_records

FILE_TRANSPORT = f"""
import sys
sys.path.insert(0, {FILE_TRANSPORT_DIR!r})
import tracefix
from file_transport import FileTransport
"""


def run_script(
    tmp_path: Path, body: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    script = tmp_path / "job.py"
    script.write_text(FILE_TRANSPORT + textwrap.dedent(body), encoding="utf-8")
    records = tmp_path / "records.jsonl"
    result = subprocess.run(
        [sys.executable, str(script), str(records), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("TRACEFIX_", "SENTRY_"))},
    )
    return result, [
        {k: v for k, v in record.items() if k != "pid"} for record in read_records(str(records))
    ]


def test_an_uncaught_exception_is_captured_then_printed_as_before(tmp_path: Path) -> None:
    result, records = run_script(
        tmp_path,
        """
        tracefix.init(transport=FileTransport(sys.argv[1]), debug=True)

        def import_customers(path):
            rows = 3
            raise LookupError(f"no customer file at {path}")

        import_customers("/data/customers.csv")
        """,
    )
    assert result.returncode == 1
    assert "LookupError: no customer file at /data/customers.csv" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr  # the previous hook ran
    assert "internal error" not in result.stderr

    (event,) = [r["event"] for r in records if "event" in r]
    (value,) = event["exception"]["values"]
    assert value["mechanism"] == {"type": "excepthook", "handled": False}
    failing = value["stacktrace"]["frames"][-1]
    assert failing["filename"] == "job.py"
    assert failing["in_app"] is True
    assert failing["vars"] == {"path": "'/data/customers.csv'", "rows": "3"}
    parsed = Event.from_dict(event)
    assert parsed.entry.argv[0].endswith("job.py")
    assert parsed.entry.cwd == str(tmp_path)
    # The atexit integration closed the transport, with the shutdown timeout.
    assert records[-1] == {"close": 2.0}


def test_a_click_command(tmp_path: Path) -> None:
    _, records = run_script(
        tmp_path,
        """
        import click
        tracefix.init(transport=FileTransport(sys.argv.pop(1)), shutdown_timeout=0.5)

        @click.command()
        @click.argument("name")
        def greet(name):
            raise KeyError(name)

        greet()
        """,
        "ann",
    )
    (event,) = [r["event"] for r in records if "event" in r]
    assert event["exception"]["values"][0]["type"] == "KeyError"
    assert event["contexts"]["entry"]["argv"][1:] == ["ann"]
    assert records[-1] == {"close": 0.5}


@pytest.mark.parametrize(
    "statement",
    ["raise KeyboardInterrupt", "raise SystemExit(3)", "sys.exit('bye')"],
)
def test_interrupts_and_exits_are_not_errors(tmp_path: Path, statement: str) -> None:
    _, records = run_script(
        tmp_path, f"tracefix.init(transport=FileTransport(sys.argv[1]))\n{statement}\n"
    )
    assert [r for r in records if "event" in r] == []


def test_the_hook_chains_to_one_installed_before(tmp_path: Path) -> None:
    result, records = run_script(
        tmp_path,
        """
        def mine(*exc_info):
            print("my hook saw", exc_info[0].__name__, file=sys.stderr)

        sys.excepthook = mine
        tracefix.init(transport=FileTransport(sys.argv[1]))
        raise ValueError("x")
        """,
    )
    assert "my hook saw ValueError" in result.stderr
    assert len([r for r in records if "event" in r]) == 1


# --- over HTTP ------------------------------------------------------------------------------


class Receiver:
    """A Sentry-compatible endpoint on loopback that keeps the event items it is sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                lines = body.split(b"\n")
                for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                    if json.loads(header).get("type") == "event":
                        receiver.events.append(json.loads(payload))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public@127.0.0.1:{self.server.server_port}/42"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


HTTP_SCRIPT = """
import sys, tracefix
tracefix.init(sys.argv[1], spool_dir=sys.argv[2], shutdown_timeout=float(sys.argv[3]))

def nightly_report(day):
    raise ZeroDivisionError("no orders on " + day)

nightly_report("monday")
"""


def run_http_script(
    tmp_path: Path, dsn: str, timeout: float
) -> tuple[float, subprocess.CompletedProcess[str]]:
    script = tmp_path / "report.py"
    script.write_text(HTTP_SCRIPT, encoding="utf-8")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script), dsn, str(tmp_path / "spool"), str(timeout)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    return time.monotonic() - started, result


def test_the_event_reaches_a_real_server_before_exit(tmp_path: Path, receiver: Receiver) -> None:
    _, result = run_http_script(tmp_path, receiver.dsn, 2.0)
    assert result.returncode == 1
    (event,) = receiver.events
    assert event["exception"]["values"][0]["type"] == "ZeroDivisionError"
    assert event["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"] == {
        "day": "'monday'"
    }


def test_exit_waits_at_most_the_shutdown_timeout_for_a_hung_server(tmp_path: Path) -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # accepts connections into its backlog and never answers
    try:
        dsn = f"http://public@127.0.0.1:{hung.getsockname()[1]}/42"
        _, baseline = run_http_script(tmp_path, "", 1.0)  # no DSN: the SDK is off
        assert baseline.returncode == 1
        elapsed, result = run_http_script(tmp_path, dsn, 1.0)
    finally:
        hung.close()
    assert result.returncode == 1
    assert elapsed < 1.0 + 3.0  # the timeout, plus the interpreter's start on a busy machine
