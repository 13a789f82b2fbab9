"""What the fake forges share: a loopback HTTP server in a thread that records every request.

Each fake (``fake_github``, ``fake_gitlab``, ``fake_gitea``) keeps a little state (repositories,
branches, pull requests, checks) and answers the way its forge documents: the same paths, auth
headers, status codes, error bodies, JSON fields and pagination headers. ``faults`` queues
answers served before any routing, one per request, to put a rate limit in the way.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode

TIMESTAMP = "2026-01-15T10:00:00Z"


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    #: The raw path, percent-encoding kept (GitLab's ``group%2Fproject`` must arrive encoded).
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "text/plain; charset=utf-8"
        if self.body is None:
            return b"", "application/json; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


class FakeForge:
    """A forge's REST API on 127.0.0.1; subclasses implement ``route``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.faults: list[Reply] = []
        self.ids = itertools.count(1000)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeForge:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def sent(self, method: str, suffix: str = "") -> list[Recorded]:
        """The requests with this method whose path (without the query) ends with ``suffix``."""
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def _answer(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
            if self.faults:
                return self.faults.pop(0)
            return self.route(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.serve()

            def do_POST(self) -> None:
                self.serve()

            def serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw.decode("utf-8", "replace")
                request = Recorded(
                    method=self.command,
                    path=path,
                    query=dict(parse_qsl(query, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                reply = fake._answer(request)
                payload, content_type = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def page_of(
    items: Sequence[Any], query: dict[str, str], *, size_param: str, default: int, maximum: int
) -> tuple[list[Any], int, int]:
    """The requested page of ``items``, its number and the number of the last page."""
    size = min(max(int(query.get(size_param) or default), 1), maximum)
    page = max(int(query.get("page") or 1), 1)
    last = max((len(items) + size - 1) // size, 1)
    return list(items[(page - 1) * size : page * size]), page, last


def link_header(base: str, path: str, query: dict[str, str], page: int, last: int) -> str:
    """RFC 8288 ``Link`` with next, last, first and prev, as GitHub, GitLab and Gitea send."""

    def at(number: int) -> str:
        return f"<{base}{path}?{urlencode({**query, 'page': number})}>"

    links = []
    if page < last:
        links += [f'{at(page + 1)}; rel="next"', f'{at(last)}; rel="last"']
    if page > 1:
        links += [f'{at(1)}; rel="first"', f'{at(page - 1)}; rel="prev"']
    return ", ".join(links)


class RemoteBranches(dict[str, str]):
    """A fake repository's branches, read live from a bare git repository: a fake forge given
    it sees the branches tracefix pushes there, as the real forge sees a push."""

    def __init__(self, remote: Path) -> None:
        super().__init__()
        self.remote = remote

    def _refs(self) -> dict[str, str]:
        listed = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:short) %(objectname)"],
            cwd=self.remote,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(line.split(" ", 1) for line in listed.splitlines())

    def __contains__(self, name: object) -> bool:
        return name in self._refs()

    def __getitem__(self, name: str) -> str:
        return self._refs()[name]

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._refs().get(name, default)
