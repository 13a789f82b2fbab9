"""Pushing a fix branch: new branches only, re-runs idempotent, tokens never written anywhere.

The remotes are real: bare repositories in a temporary folder, and for https-style credentials
the same bare repositories served by git's own smart-HTTP server (``git http-backend``) behind
a loopback HTTP server that demands a Basic token, as forges do.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tracefix.deliver.branch import commit_on_new_branch
from tracefix.deliver.push import PushResult
from tracefix.deliver.push import push_branch
from tracefix.errors import DeliveryError
from tracefix.git import git
from tracefix.patch import FileChange

SEED = "from app import db\ndb.session.commit()\n"
FIXED = (
    "from app import create_app, db\nwith create_app().app_context():\n    db.session.commit()\n"
)
BRANCH = "tracefix/ctx101-abcdef12"
TOKEN = "ghp_testtoken1234567890"


def out(root: Path, *args: str) -> str:
    return git(*args, cwd=root).stdout.strip()


def remote_ref(remote: Path, branch: str) -> str | None:
    found = git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=remote, check=False)
    return found.stdout.strip() if found.ok else None


@pytest.fixture
def repo(make_repo) -> Path:
    return make_repo({"scripts/seed.py": SEED})


@pytest.fixture
def fix(repo: Path) -> str:
    """The sha of a fix committed on ``BRANCH`` the way ``tracefix run --branch`` does it."""
    return commit_on_new_branch(
        repo, [FileChange("scripts/seed.py", SEED, FIXED)], BRANCH, "Push an app context\n"
    )


def make_bare(tmp_path: Path, name: str, *, default: str = "main") -> Path:
    remote = tmp_path / name
    git("init", "--quiet", "--bare", f"--initial-branch={default}", str(remote), cwd=tmp_path)
    return remote


@pytest.fixture
def remote(tmp_path: Path, repo: Path) -> Path:
    """A bare repository holding the project's ``main``, its default branch."""
    bare = make_bare(tmp_path, "remote.git")
    git("push", "--quiet", str(bare), "main:refs/heads/main", cwd=repo)
    return bare


def test_push_creates_the_branch_at_the_fix(repo: Path, remote: Path, fix: str) -> None:
    main_before = remote_ref(remote, "main")

    result = push_branch(repo, str(remote), BRANCH)

    assert result == PushResult(str(remote), BRANCH, fix, created=True, default_branch="main")
    assert remote_ref(remote, BRANCH) == fix
    assert remote_ref(remote, "main") == main_before
    assert git("show", f"{BRANCH}:scripts/seed.py", cwd=remote).stdout == FIXED


def test_a_re_run_with_the_same_commit_succeeds_and_sends_nothing(
    repo: Path, remote: Path, fix: str
) -> None:
    push_branch(repo, str(remote), BRANCH)
    before = out(remote, "for-each-ref")

    again = push_branch(repo, str(remote), BRANCH)

    assert again.created is False
    assert again.commit == fix
    assert out(remote, "for-each-ref") == before


def test_a_commit_sha_is_pushed_under_the_name_given(repo: Path, remote: Path, fix: str) -> None:
    result = push_branch(repo, str(remote), "tracefix/second-name", commit=fix)

    assert result.created is True
    assert remote_ref(remote, "tracefix/second-name") == fix


@pytest.mark.parametrize("branch", ["main", "master"])
def test_main_and_master_are_refused(repo: Path, remote: Path, fix: str, branch: str) -> None:
    before = out(remote, "for-each-ref")

    with pytest.raises(DeliveryError, match=f"refusing to push to {branch}"):
        push_branch(repo, str(remote), branch, commit=fix)

    assert out(remote, "for-each-ref") == before


def test_the_remotes_default_branch_is_refused(tmp_path: Path, repo: Path, fix: str) -> None:
    trunk = make_bare(tmp_path, "trunk.git", default="trunk")
    git("push", "--quiet", str(trunk), "main:refs/heads/trunk", cwd=repo)

    with pytest.raises(DeliveryError, match="trunk is the default branch of"):
        push_branch(repo, str(trunk), "trunk", commit=fix)

    assert remote_ref(trunk, "trunk") == out(repo, "rev-parse", "main")


def test_a_branch_holding_other_work_is_left_alone(repo: Path, remote: Path, fix: str) -> None:
    someone_else = out(repo, "rev-parse", "main")
    git("push", "--quiet", str(remote), f"main:refs/heads/{BRANCH}", cwd=repo)

    with pytest.raises(DeliveryError) as raised:
        push_branch(repo, str(remote), BRANCH)

    message = raised.value.message
    assert f"branch {BRANCH} already exists on {remote} at {someone_else[:12]}" in message
    assert "\n" not in message
    assert remote_ref(remote, BRANCH) == someone_else


def test_a_branch_the_fix_only_extends_is_not_fast_forwarded(
    repo: Path, remote: Path, fix: str
) -> None:
    """Even an ancestor of the fix on the remote branch is someone's push, not ours."""
    git("push", "--quiet", str(remote), f"{fix}^:refs/heads/{BRANCH}", cwd=repo)

    with pytest.raises(DeliveryError, match="already exists"):
        push_branch(repo, str(remote), BRANCH)

    assert remote_ref(remote, BRANCH) == out(repo, "rev-parse", f"{fix}^")


def test_an_empty_remote_gets_the_branch_and_has_no_default(
    tmp_path: Path, repo: Path, fix: str
) -> None:
    empty = make_bare(tmp_path, "empty.git")

    result = push_branch(repo, str(empty), BRANCH)

    assert result.created is True
    assert result.default_branch is None
    assert remote_ref(empty, BRANCH) == fix


def test_a_branch_not_committed_locally_is_refused(repo: Path, remote: Path) -> None:
    with pytest.raises(DeliveryError, match="no local branch tracefix/missing in .*commit the fix"):
        push_branch(repo, str(remote), "tracefix/missing")


@pytest.mark.parametrize("branch", ["-delete", "bad..name", "has space"])
def test_invalid_branch_names_are_refused(repo: Path, remote: Path, branch: str) -> None:
    with pytest.raises(DeliveryError, match="is not a valid branch name"):
        push_branch(repo, str(remote), branch, commit="HEAD")


def test_an_unreachable_remote_is_one_line(tmp_path: Path, repo: Path, fix: str) -> None:
    with pytest.raises(DeliveryError) as raised:
        push_branch(repo, str(tmp_path / "nowhere.git"), BRANCH)

    message = raised.value.message
    assert message.startswith(f"cannot read {tmp_path / 'nowhere.git'}: ")
    assert "does not appear to be a git repository" in message
    assert "\n" not in message


# A forge-like https remote: git http-backend behind Basic authentication.


class GitHttpServer:
    """Serves the bare repositories under ``root`` over git's smart HTTP protocol.

    Every request must carry ``Authorization: Basic base64(username:token)``, else 401 with a
    ``WWW-Authenticate`` challenge, as GitHub, GitLab and Gitea answer.
    """

    def __init__(self, root: Path, username: str, token: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()
        self.authorizations: list[str | None] = []
        self.backend = shutil.which("git-http-backend") or str(
            Path(out(root, "--exec-path")) / "git-http-backend"
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.serve()

            def do_POST(self) -> None:
                self.serve()

            def serve(self) -> None:
                authorization = self.headers.get("Authorization")
                outer.authorizations.append(authorization)
                if authorization != outer.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="tracefix test forge"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                env = {
                    "PATH": os.environ.get("PATH", ""),
                    "GIT_PROJECT_ROOT": str(outer.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REMOTE_USER": "tracefix",
                    "REMOTE_ADDR": "127.0.0.1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                }
                body = self.read_body()
                env["CONTENT_LENGTH"] = str(len(body))
                completed = subprocess.run(
                    [outer.backend], input=body, env=env, capture_output=True, check=False
                )
                head, _, payload = completed.stdout.partition(b"\r\n\r\n")
                if not _:
                    head, _, payload = completed.stdout.partition(b"\n\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").splitlines():
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        return Handler


@pytest.fixture
def http_remote(tmp_path: Path, remote: Path) -> Iterator[GitHttpServer]:
    server = GitHttpServer(tmp_path, "x-access-token", TOKEN)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def every_file_under(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def test_a_token_authenticates_the_push_without_being_written(
    repo: Path, remote: Path, fix: str, http_remote: GitHttpServer
) -> None:
    config_before = (repo / ".git" / "config").read_bytes()
    url = f"{http_remote.url}/remote.git"

    result = push_branch(repo, url, BRANCH, token=TOKEN)

    assert result.created is True
    assert remote_ref(remote, BRANCH) == fix
    assert http_remote.authorizations and all(
        seen == http_remote.expected for seen in http_remote.authorizations
    )
    assert (repo / ".git" / "config").read_bytes() == config_before
    assert TOKEN.encode() not in every_file_under(repo / ".git")
    assert push_branch(repo, url, BRANCH, token=TOKEN).created is False


def test_a_refused_token_is_one_line_without_the_token(
    repo: Path, remote: Path, fix: str, http_remote: GitHttpServer
) -> None:
    wrong = "ghp_wrongtoken000000000"

    with pytest.raises(DeliveryError) as raised:
        push_branch(repo, f"{http_remote.url}/remote.git", BRANCH, token=wrong)

    message = raised.value.message
    assert message.startswith(f"cannot read {http_remote.url}/remote.git: the token was refused")
    assert "\n" not in message
    assert wrong not in message and TOKEN not in message
    assert remote_ref(remote, BRANCH) is None


def test_credentials_in_the_remote_url_stay_out_of_the_result_and_messages(
    repo: Path, remote: Path, fix: str, http_remote: GitHttpServer
) -> None:
    address = http_remote.url.removeprefix("http://")
    with pytest.raises(DeliveryError) as raised:
        push_branch(repo, f"http://someone:sekrit@{address}/remote.git", BRANCH)

    assert "sekrit" not in raised.value.message

    result = push_branch(repo, f"http://someone:sekrit@{address}/remote.git", BRANCH, token=TOKEN)
    assert result.remote == f"http://{address}/remote.git"


def test_a_remote_rejection_names_the_reason(
    repo: Path, remote: Path, fix: str, http_remote: GitHttpServer
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected by policy' >&2\nexit 1\n")
    hook.chmod(0o755)

    with pytest.raises(DeliveryError) as raised:
        push_branch(repo, f"{http_remote.url}/remote.git", BRANCH, token=TOKEN)

    assert raised.value.message == (
        f"cannot push {BRANCH} to {http_remote.url}/remote.git: "
        "[remote rejected] (pre-receive hook declined)"
    )
    assert remote_ref(remote, BRANCH) is None


def test_a_token_is_never_sent_over_plain_http_to_another_machine(repo: Path, fix: str) -> None:
    with pytest.raises(DeliveryError, match="refusing to send the token over plain http"):
        push_branch(repo, "http://git.example.com/o/r.git", BRANCH, token=TOKEN)


def test_a_stalled_server_is_given_up_on(repo: Path, fix: str) -> None:
    """A server that accepts the connection and never answers: git stops, nothing hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/remote.git"
    started = time.monotonic()
    try:
        with pytest.raises(DeliveryError, match=r"^cannot read http://127\.0\.0\.1:\d+/remote"):
            push_branch(repo, url, BRANCH, token=TOKEN, stall_timeout=2)
    finally:
        stop.set()
        acceptor.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert time.monotonic() - started < 30
