"""A real receiving server on loopback, and what the transport tests share.

``Receiver`` is a small Sentry-compatible endpoint: it decompresses gzip, parses each envelope
with tracefix's parser, records headers, items and the TCP connection each POST came on, and
answers what a test scripts (429, 413, 500, a delay). It can be stopped, which also cuts its
open keep-alive connections, and started again on the same port.
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tracefix.sdk._journal import parse_journal_name
from tracefix.sdk._journal import read_records
from tracefix.sdk.envelope import Envelope
from tracefix.sdk.envelope import EnvelopeError
from tracefix.sdk.envelope import parse_envelope
from tracefix.sdk.transport import HttpTransport


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    envelope: Envelope
    connection: int
    status: int
    at: float


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Rule = Callable[[Envelope], tuple[int, dict[str, str]] | None]


class Receiver:
    def __init__(self) -> None:
        self.port = 0
        self.posts: list[Posted] = []
        self.connections = 0
        self.answers: deque[Answer] = deque()  # scripted answers, then 200s
        self.rule: Rule | None = None  # asked first: (status, headers), or None
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._sockets: set[socket.socket] = set()

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/42"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver.connections += 1
                    self.connection_id = receiver.connections
                    receiver._sockets.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._sockets.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                envelope = parse_envelope(body)
                with receiver._lock:
                    ruled = receiver.rule(envelope) if receiver.rule else None
                    answer = Answer(*ruled) if ruled else None
                    if answer is None:
                        answer = receiver.answers.popleft() if receiver.answers else Answer()
                    receiver.posts.append(
                        Posted(
                            self.path,
                            dict(self.headers.items()),
                            envelope,
                            self.connection_id,
                            answer.status,
                            time.monotonic(),
                        )
                    )
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._server = server

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next POST not answered by ``rule`` with ``status`` (then 200s)."""
        self.answers.append(Answer(status, headers or {}))

    def accepted(self) -> list[Posted]:
        with self._lock:
            return [post for post in self.posts if 200 <= post.status < 300]

    def events(self) -> list[dict[str, Any]]:
        """Events in envelopes the receiver accepted (answered 2xx)."""
        return [event for post in self.accepted() for event in post.envelope.events()]

    def event_ids(self) -> list[str]:
        return [event["event_id"] for event in self.events()]

    def discarded(self) -> dict[tuple[str, str], int]:
        """Every accepted client report's counts, summed."""
        totals: dict[tuple[str, str], int] = {}
        reports = [r for post in self.accepted() for r in post.envelope.client_reports()]
        for report in reports:
            for entry in report["discarded_events"]:
                key = (entry["reason"], entry["category"])
                totals[key] = totals.get(key, 0) + entry["quantity"]
        return totals


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hung_dsn() -> Iterator[str]:
    """A port that completes the TCP handshake (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://public@127.0.0.1:{sock.getsockname()[1]}/42"
    sock.close()


@pytest.fixture
def closed_dsn() -> str:
    """A port nobody listens on: every connect is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://public@127.0.0.1:{port}/42"


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture(autouse=True)
def internal_errors(request: pytest.FixtureRequest) -> Iterator[list[logging.LogRecord]]:
    """Fail the test on any error the transport swallowed (logged with a traceback), as
    sentry-python's ``internal_exceptions`` fixture does; a test that provokes them on purpose
    asks for ``allow_internal_errors``."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                records.append(record)

    handler = Collect(logging.DEBUG)
    logger = logging.getLogger("tracefix.sdk")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    if "allow_internal_errors" not in request.fixturenames and records:
        first = records[0]
        pytest.fail(f"the transport swallowed an error: {first.getMessage()}", pytrace=False)


@pytest.fixture
def allow_internal_errors() -> None:
    return None


MakeEvent = Callable[..., dict[str, Any]]
WaitUntil = Callable[..., bool]


def _make_event(index: int = 0, **extra: Any) -> dict[str, Any]:
    frames = [
        {
            "filename": f"app/views_{n}.py",
            "function": f"handler_{n}",
            "lineno": 10 + n,
            "in_app": True,
            "context_line": f"    result = compute(order_{n}, user=user)",
            "pre_context": ["def handler():", "    user = load_user()", "    order = get()"],
            "post_context": ["    return result", ""],
            "vars": {"user": "<User 17>", "order": f"{{'id': {n}, 'total': 12.5}}"},
        }
        for n in range(6)
    ]
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "level": "error",
        "platform": "python",
        "message": f"event {index}",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"bad value {index}",
                    "stacktrace": {"frames": frames},
                }
            ]
        },
        "contexts": {"flask": {"endpoint": "boom", "method": "GET", "url": "http://x/boom"}},
        "release": "1.0.0",
        "environment": "test",
    }
    event.update(extra)
    return event


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def event_ids_on_disk(directory: Path) -> list[str]:
    """The ids of the events a spool directory holds, each once: in complete spool files (every
    one must parse) and in journal records waiting there, as a recovery would restore them (a
    record whose spool file exists already is that file)."""
    ids: list[str] = []
    names = set(os.listdir(directory))
    files = {name.partition(".sending-")[0] for name in names if ".env" in name}
    for name in sorted(names):
        if name.startswith(".tmp-") or parse_journal_name(name) is not None:
            continue
        try:
            envelope = parse_envelope((directory / name).read_bytes())
        except EnvelopeError as exc:
            raise AssertionError(f"{name} is corrupt: {exc}") from None
        ids.extend(event["event_id"] for event in envelope.events())
    for name in sorted(names):
        parsed = parse_journal_name(name)
        if parsed is None:
            continue
        for record in read_records((directory / name).read_bytes()):
            if not record.waiting:
                continue
            envelope = record.envelope()
            restored = (
                f"{record.created_ns:020d}-{parsed[0]}-{record.serial:08d}-"
                f"{len(envelope)}.error.env"
            )
            if restored not in files:
                ids.extend(event["event_id"] for event in parse_envelope(envelope).events())
    return ids


@pytest.fixture
def make_event() -> MakeEvent:
    """``make_event(i, **fields)``: an error event of a realistic shape (about 3 KB of JSON)."""
    return _make_event


@pytest.fixture
def wait_until() -> WaitUntil:
    """``wait_until(predicate, timeout=5.0)``: poll until true; the final value."""
    return _wait_until


MakeTransport = Callable[..., HttpTransport]


@pytest.fixture
def make_transport() -> Iterator[MakeTransport]:
    """``make_transport(dsn, **options)``: an ``HttpTransport`` with back-off in tens of
    milliseconds, closed at the end of the test."""
    made: list[HttpTransport] = []

    def make(dsn: str, **options: Any) -> HttpTransport:
        options.setdefault("backoff_base", 0.05)
        options.setdefault("backoff_max", 0.2)
        options.setdefault("read_timeout", 2.0)
        transport = HttpTransport(dsn, **options)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close(0.5)
