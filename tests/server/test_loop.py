"""The whole loop: a real Flask app with the SDK raises in production, the server groups it,
fixes and verifies it against the project's repository, and pushes the branch."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.models import utcnow
from tracefix.server.projects import create_project
from tracefix.server.projects import dsn

from .conftest import LiveServer
from .conftest import state

FORGES = Path(__file__).parents[1] / "deliver" / "forges"
sys.path.insert(0, str(FORGES))  # the fake forges, as tests/deliver/forges/conftest.py does

from fake_forge import RemoteBranches  # noqa: E402
from fake_gitea import FakeGitea  # noqa: E402

FORGE_TOKEN = "forge-token-1234"
CASE = (
    Path(__file__).parents[2]
    / "src/tracefix/recipes/thread_target/cases/view_thread_factory/project"
)
FINAL_STATES = {"delivered", "verified", "unverified", "no_fix", "not_reproduced", "failed"}


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, Path, str]:
    """The project as a developer has it (a clone) and its remote (a bare repository)."""
    work = tmp_path / "work"
    shutil.copytree(CASE, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "the app")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(remote))
    return work, remote, git(work, "rev-parse", "HEAD")


PRODUCTION = textwrap.dedent(
    """
    import sys, threading
    import tracefix
    tracefix.init(dsn=sys.argv[1], release=sys.argv[2], spool_dir=False)
    from app import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:"})
    response = app.test_client().post("/signup", data={"email": "ada@example.com"})
    assert response.status_code == 201, response.status_code
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(30)
    assert tracefix.flush(10)
    """
)


def wait_for_fix(app: Any, timeout: float = 240) -> Fix:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with state(app).db.session() as session:
            fix = session.scalars(select(Fix)).first()
            if fix is not None and fix.state in FINAL_STATES:
                return fix
        time.sleep(0.5)
    raise AssertionError("no fix attempt finished in time")


@contextlib.contextmanager
def production_error_on_a_forge(
    make_app: Any, repository: tuple[Path, Path, str]
) -> Iterator[tuple[Any, Any, Fix]]:
    """The app fails in production (a thread its view starts), with the SDK on, reporting to
    a live server whose project opens pull requests on a fake Gitea that sees the bare
    remote's branches; the app, the forge's repository and the finished fix attempt."""
    work, remote, release = repository
    forge = FakeGitea(FORGE_TOKEN).__enter__()
    forge_repository = forge.add_repository("acme", "welcome", {})
    forge_repository.branches = RemoteBranches(remote)
    app = make_app(auto_fix=True)
    server = LiveServer(app)
    settings = {
        "python": sys.executable,
        "forge": "gitea",
        "forge_url": "https://codeberg.example/acme/welcome.git",
        "forge_api_url": f"{forge.url}/api/v1",
        "token_env": "TRACEFIX_TEST_FORGE_TOKEN",
    }
    try:
        with state(app).db.write_session() as session:
            project = create_project(session, "welcome", str(remote), settings)
            project_dsn = dsn(server.url, project)
        production = subprocess.run(
            [sys.executable, "-c", PRODUCTION, project_dsn, release],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert production.returncode == 0, production.stderr
        assert "Working outside of application context" in production.stderr
        yield app, forge_repository, wait_for_fix(app)
    finally:
        server.stop()
        forge.__exit__(None, None, None)


def test_a_production_thread_error_becomes_a_verified_pull_request(
    make_app: Any,
    repository: tuple[Path, Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work, remote, release = repository
    monkeypatch.setenv("TRACEFIX_TEST_FORGE_TOKEN", FORGE_TOKEN)
    with production_error_on_a_forge(make_app, repository) as (app, forge_repository, fix):
        pass  # the server and the forge stop here: what they left is checked below

    with state(app).db.session() as session:
        (issue,) = session.scalars(select(Issue))
        assert issue.title == "RuntimeError: Working outside of application context."
        assert issue.event_count == 1
    assert fix.state == "delivered", (fix.error, fix.log)
    assert fix.code == "CTX103"
    assert fix.release == release
    assert "app.app_context()" in (fix.diff or "")
    assert fix.report is not None and fix.report["verification"]["verified"] is True
    command = fix.command or []
    assert command[1] == "-c" and "'/signup'" in command[2]

    branch = fix.branch
    assert branch == f"tracefix/issue-{issue.id}-{release[:12]}"
    pushed = git(remote, "rev-parse", f"refs/heads/{branch}")
    assert pushed == fix.commit_sha
    assert git(remote, "rev-parse", f"{pushed}^") == release
    assert git(remote, "rev-parse", "refs/heads/main") == release  # the default branch untouched
    changed = git(remote, "diff", "--name-only", release, pushed).splitlines()
    assert changed and all(path.startswith("app/") for path in changed)
    assert git(work, "status", "--porcelain") == ""  # the developer's clone untouched

    (pull,) = forge_repository.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (branch, "main")
    assert fix.pr_url == pull["html_url"] and fix.pr_number == pull["number"]
    assert "CTX103" in pull["title"] and "```diff" in pull["body"]
    assert "app.app_context()" in pull["body"]
    assert fix.checks_state == "none"


def test_a_second_run_of_the_job_makes_no_second_attempt(
    make_app: Any, repository: tuple[Path, Path, str]
) -> None:
    from tracefix.server.fixing import attempt_fix
    from tracefix.server.fixing import queue_again

    work, remote, release = repository
    app = make_app()
    server_state = state(app)
    with server_state.db.write_session() as session:
        project = create_project(session, "welcome", str(remote), {"python": sys.executable})
        project_id, key = project.id, project.public_key
    event = {
        "event_id": "9" * 32,
        "release": release,
        "exception": {"values": [{"type": "RuntimeError", "value": "x"}]},
        "contexts": {"entry": {"argv": ["gunicorn", "app:app"]}},
    }
    body = b'{}\n{"type":"event"}\n' + json.dumps(event).encode() + b"\n"
    response = app.test_client().post(
        f"/api/{project_id}/envelope/",
        data=body,
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"},
    )
    assert response.status_code == 200
    assert server_state.jobs.wait_digested(10)
    with server_state.db.session() as session:
        (issue,) = session.scalars(select(Issue))
    first = attempt_fix(server_state.config, server_state.db, issue.id)
    assert first is not None
    assert attempt_fix(server_state.config, server_state.db, issue.id) is None
    with server_state.db.session() as session:
        (fix,) = session.scalars(select(Fix))
    assert fix.state == "not_reproduced"
    assert "gunicorn" in (fix.error or "")

    # A job that died mid-attempt leaves it running: a later job takes it over, once.
    with server_state.db.write_session() as session:
        (fix,) = session.scalars(select(Fix))
        fix.state, fix.updated_at = "running", utcnow() - dt.timedelta(days=1)
    assert attempt_fix(server_state.config, server_state.db, issue.id) == first
    assert attempt_fix(server_state.config, server_state.db, issue.id) is None
    with server_state.db.session() as session:
        (fix,) = session.scalars(select(Fix))
    assert fix.state == "not_reproduced"

    # A person has it tried again (the dashboard's button): the next job runs it, once.
    with server_state.db.write_session() as session:
        (fix,) = session.scalars(select(Fix))
        queue_again(session, fix)
    assert attempt_fix(server_state.config, server_state.db, issue.id) == first
    assert attempt_fix(server_state.config, server_state.db, issue.id) is None
    with server_state.db.session() as session:
        (fix,) = session.scalars(select(Fix))
    assert fix.state == "not_reproduced" and "gunicorn" in (fix.error or "")


def test_a_fix_the_forge_did_not_take_is_delivered_again_later(
    make_app: Any,
    repository: tuple[Path, Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The forge token is missing at the attempt (as it would be for a forge that is down):
    the fix is verified and kept; the review job delivers it once the token is there, as it
    was verified, and not before its back-off, nor a day later."""
    from tracefix.server.delivery import retry_deliveries

    work, remote, release = repository
    monkeypatch.delenv("TRACEFIX_TEST_FORGE_TOKEN", raising=False)
    with production_error_on_a_forge(make_app, repository) as (app, forge_repository, fix):
        assert fix.state == "verified", (fix.error, fix.log)
        assert fix.error == (
            "verified, but not delivered: the project's forge needs a token: "
            "set TRACEFIX_TEST_FORGE_TOKEN for the server"
        )
        assert fix.commit_sha and fix.branch
        config, db = state(app).config, state(app).db

        monkeypatch.setenv("TRACEFIX_TEST_FORGE_TOKEN", FORGE_TOKEN)
        assert retry_deliveries(config, db) == 0  # tried a moment ago: not yet
        assert retry_deliveries(config, db, now=fix.created_at + dt.timedelta(hours=25)) == 0
        assert forge_repository.pulls == []
        assert retry_deliveries(config, db, now=utcnow() + dt.timedelta(minutes=2)) == 1

    with state(app).db.session() as session:
        (delivered,) = session.scalars(select(Fix))
    assert (delivered.state, delivered.error) == ("delivered", None)
    assert delivered.commit_sha == fix.commit_sha
    assert git(remote, "rev-parse", f"refs/heads/{fix.branch}") == fix.commit_sha
    (pull,) = forge_repository.pulls
    assert pull["head"]["ref"] == fix.branch and "CTX103" in pull["title"]
    assert delivered.pr_number == pull["number"]
