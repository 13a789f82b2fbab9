"""The fix job replays a Celery task from its event: a real worker fails on "Working outside of
application context", the SDK records the task, and the server runs that task again eagerly in
a checkout, fixes it with CTX105 and verifies the fix by the same replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tracefix import git as tracefix_git
from tracefix.diagnose.project import Project
from tracefix.server.models import Event
from tracefix.server.models import Issue
from tracefix.server.projects import create_project
from tracefix.server.projects import dsn
from tracefix.server.reproduce import CannotReproduce
from tracefix.server.reproduce import reproductions_for

from .conftest import LiveServer
from .conftest import clean_redis_broker
from .conftest import state
from .test_loop import git
from .test_loop import wait_for_fix

BROKER = os.environ.get("TRACEFIX_TEST_REPLAY_REDIS", "redis://127.0.0.1:6379/12")
TASK = "shop.tasks.send_welcome"

#: Flask's documented Celery set-up (``celery_init_app``, ``make_celery.py`` for the worker's
#: ``-A``) with a task that reads ``current_app``: it fails on every worker run.
PROJECT = {
    "shop/__init__.py": """
        import os

        from celery import Celery
        from flask import Flask


        def create_app(test_config=None):
            app = Flask(__name__)
            app.config.from_mapping(
                WELCOME_SUBJECT="Welcome to the shop, {name}",
                CELERY=dict(
                    broker_url=os.environ.get("CELERY_BROKER_URL", "memory://"),
                    task_ignore_result=True,
                ),
            )
            if test_config is not None:
                app.config.from_mapping(test_config)
            celery_init_app(app)

            from shop import views

            app.register_blueprint(views.bp)
            return app


        def celery_init_app(app):
            celery_app = Celery(app.name)
            celery_app.config_from_object(app.config["CELERY"])
            celery_app.set_default()
            app.extensions["celery"] = celery_app
            return celery_app
        """,
    "shop/tasks.py": """
        from celery import shared_task
        from flask import current_app


        @shared_task
        def send_welcome(email, name):
            subject = current_app.config["WELCOME_SUBJECT"].format(name=name)
            return f"To: {email}\\nSubject: {subject}"
        """,
    "shop/views.py": """
        from flask import Blueprint
        from flask import request

        from shop.tasks import send_welcome

        bp = Blueprint("accounts", __name__)


        @bp.post("/signup")
        def signup():
            send_welcome.delay(request.form["email"], name=request.form["name"])
            return {"queued": True}, 202
        """,
    "make_celery.py": """
        import tracefix

        from shop import create_app

        tracefix.init()
        flask_app = create_app()
        celery_app = flask_app.extensions["celery"]
        """,
    "make_celery_sentry.py": """
        import sentry_sdk

        from shop import create_app

        sentry_sdk.init(send_default_pii=True)
        flask_app = create_app()
        celery_app = flask_app.extensions["celery"]
        """,
    "tests/test_app.py": """
        from shop import create_app


        def test_the_subject_names_the_user():
            app = create_app({"TESTING": True})
            assert app.config["WELCOME_SUBJECT"].format(name="Ada") == "Welcome to the shop, Ada"
        """,
}


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, Path, str]:
    """The project as a developer has it (a clone) and its remote (a bare repository)."""
    work = tmp_path / "work"
    for path, text in PROJECT.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(textwrap.dedent(text).lstrip())
    (work / ".gitignore").write_text("__pycache__/\n")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "the shop")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(remote))
    return work, remote, git(work, "rev-parse", "HEAD")


@pytest.fixture
def broker() -> str:
    return clean_redis_broker(BROKER)


def start_worker(
    work: Path, celery_module: str, project_dsn: str, release: str, broker: str, cache: Path
) -> subprocess.Popen[str]:
    """The project's worker as production runs it: ``celery -A make_celery worker``."""
    celery = Path(sys.executable).parent / "celery"
    env = {
        **os.environ,
        "SENTRY_DSN": project_dsn,
        "SENTRY_RELEASE": release,
        "CELERY_BROKER_URL": broker,
        "XDG_CACHE_HOME": str(cache),  # our SDK's spool
    }
    return subprocess.Popen(
        [str(celery), "-A", celery_module, "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_worker(worker: subprocess.Popen[str]) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        output, _ = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    return output


def recorded_task(payload: dict[str, Any], celery_module: str) -> dict[str, Any]:
    """The task as the worker's SDK recorded it, in the shape of sentry-sdk's ``celery-job``."""
    if celery_module == "make_celery":
        context = payload["contexts"]["celery"]
        return {"task_name": context["task"], "args": context["args"], "kwargs": context["kwargs"]}
    job: dict[str, Any] = payload["extra"]["celery-job"]
    return job


@pytest.mark.parametrize(
    ("celery_module", "recorded"),
    [
        pytest.param(
            "make_celery",
            {"task_name": TASK, "args": ["'ada@example.com'"], "kwargs": {"name": "'Ada'"}},
            id="tracefix SDK",
        ),
        pytest.param(
            "make_celery_sentry",
            {"task_name": TASK, "args": ["ada@example.com"], "kwargs": {"name": "Ada"}},
            id="sentry-sdk",
        ),
    ],
)
def test_a_failed_worker_task_is_replayed_fixed_and_delivered(
    celery_module: str,
    recorded: dict[str, Any],
    make_app: Any,
    repository: tuple[Path, Path, str],
    broker: str,
    tmp_path: Path,
) -> None:
    from celery import Celery

    work, remote, release = repository
    app = make_app(auto_fix=True)
    server = LiveServer(app)
    with state(app).db.write_session() as session:
        project = create_project(session, "shop", str(remote), {"python": sys.executable})
        project_dsn = dsn(server.url, project)
    worker = start_worker(work, celery_module, project_dsn, release, broker, tmp_path / "cache")
    output = ""
    try:
        producer = Celery("producer", broker=broker)
        producer.send_task(TASK, args=["ada@example.com"], kwargs={"name": "Ada"})
        fix = wait_for_fix(app)
    finally:
        output = stop_worker(worker)
        server.stop()
    assert "Working outside of application context" in output, output

    with state(app).db.session() as session:
        (issue,) = session.scalars(select(Issue))
        (event,) = session.scalars(select(Event))
        assert issue.title == "RuntimeError: Working outside of application context."
        payload = json.loads(event.payload)
    assert recorded_task(payload, celery_module) == recorded
    assert fix.state == "delivered", (fix.error, fix.log)
    assert fix.code == "CTX105"
    assert fix.release == release
    command = fix.command or []
    assert command[1] == "-c"
    assert f"find_app({celery_module!r})" in command[2]
    assert f"tasks[{TASK!r}].apply(args=['ada@example.com'], kwargs={{'name': 'Ada'}}" in command[2]
    assert fix.report is not None
    verification = fix.report["verification"]
    assert verification["reproduced"] and verification["verified"], verification
    diff = fix.diff or ""
    assert "+            with app.app_context():" in diff
    assert "Celery(app.name, task_cls=FlaskTask)" in diff
    changed = git(remote, "diff", "--name-only", release, fix.commit_sha or "").splitlines()
    assert changed == ["shop/__init__.py"]
    assert git(work, "status", "--porcelain") == ""


def sdk_event(**celery: Any) -> dict[str, Any]:
    """A worker's event as our SDK's Celery integration records it."""
    context = {
        "type": "celery",
        "task": TASK,
        "task_id": "5c8e0a3e-1d0b-4a52-9f69-8c2a3c7a1f10",
        "args": ["'ada@example.com'"],
        "kwargs": {"name": "'Ada'"},
        **celery,
    }
    return {
        "exception": {"values": [{"type": "RuntimeError"}]},
        "contexts": {
            "celery": context,
            "entry": {
                "argv": ["/srv/shop/.venv/bin/celery", "-A", "make_celery", "worker"],
                "cwd": "/srv/shop",
            },
        },
        "extra": {"celery-job": {"task_name": TASK, "args": context["args"]}},
    }


def sentry_sdk_event(args: Any, kwargs: Any, **event: Any) -> dict[str, Any]:
    """A worker's event as sentry-sdk's Celery integration sends it: the task in
    ``extra["celery-job"]``, the worker's argv in ``extra["sys.argv"]``."""
    return {
        "exception": {"values": [{"type": "RuntimeError"}]},
        "extra": {
            "celery-job": {"task_name": TASK, "args": args, "kwargs": kwargs},
            "sys.argv": ["/srv/shop/.venv/bin/celery", "-A", "make_celery", "worker"],
        },
        **event,
    }


def run_replay(event: dict[str, Any], work: Path) -> subprocess.CompletedProcess[str]:
    (replay,) = reproductions_for(event, tracefix_git.read_project(work), sys.executable)
    return subprocess.run(
        replay.argv, cwd=work / replay.cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(sdk_event(), id="tracefix SDK"),
        pytest.param(
            sentry_sdk_event(["ada@example.com"], {"name": "Ada"}), id="sentry-sdk with PII"
        ),
    ],
)
def test_the_replay_runs_the_task_and_fails_as_the_worker_did(
    event: dict[str, Any], repository: tuple[Path, Path, str]
) -> None:
    work, _, _ = repository
    failed = run_replay(event, work)
    assert failed.returncode != 0
    assert "RuntimeError: Working outside of application context." in failed.stderr

    fixed = (
        (work / "shop/tasks.py")
        .read_text()
        .replace(
            '    subject = current_app.config["WELCOME_SUBJECT"].format(name=name)\n',
            '    subject = "Welcome to the shop, {name}".format(name=name)\n',
        )
    )
    (work / "shop/tasks.py").write_text(fixed)
    passed = run_replay(event, work)
    assert passed.returncode == 0, passed.stderr


def test_a_task_named_by_hand_without_the_workers_app_option_runs_on_the_module_level_app(
    tmp_path: Path,
) -> None:
    """An event with no worker argv (sentry-sdk without its argv integration): the task's own
    ``name=`` finds its function, and the module-level Celery app is the worker's."""
    files = {
        "jobs/__init__.py": "",
        "jobs/worker.py": "from celery import Celery\n\ncelery = Celery('jobs')\n",
        "jobs/tasks.py": textwrap.dedent(
            """
            from flask import current_app

            from jobs.worker import celery


            @celery.task(name="maintenance.purge")
            def purge(days):
                return current_app.config["KEEP"] - days
            """
        ),
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    event = {
        "exception": {"values": [{"type": "RuntimeError"}]},
        "contexts": {"celery": {"task": "maintenance.purge", "args": ["30"], "kwargs": {}}},
    }

    (replay,) = reproductions_for(event, Project(files), sys.executable)

    assert "find_app('jobs.worker:celery')" in replay.argv[2]
    assert "importlib.import_module('jobs.tasks')" in replay.argv[2]
    ran = subprocess.run(replay.argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "RuntimeError: Working outside of application context." in ran.stderr


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(
            sdk_event(args=["'" + "x" * 196 + "...'"]),
            "the task's arguments were truncated",
            id="a repr cut at its limit",
        ),
        pytest.param(
            sdk_event(args=["[1, 2, [3, [...]]]"]),
            "the task's arguments were truncated",
            id="a container cut deep",
        ),
        pytest.param(
            sdk_event(kwargs={"options": "{'a': 1, ...}"}),
            "the task's arguments were truncated",
            id="a dict cut",
        ),
        pytest.param(
            sdk_event(args=[repr(n) for n in range(10)]),
            "the task's arguments were truncated",
            id="as many arguments as the SDK keeps",
        ),
        pytest.param(
            sdk_event(args=["<User 12>"]),
            "is not a Python literal",
            id="an object",
        ),
        pytest.param(
            sdk_event(kwargs={"config": "{'token': '[Filtered]'}"}),
            "was scrubbed of a secret",
            id="a scrubbed secret",
        ),
        pytest.param(
            sdk_event(task="shop.tasks.send_goodbye"),
            "the project declares no Celery task named shop.tasks.send_goodbye",
            id="an unknown task",
        ),
        pytest.param(
            sentry_sdk_event("[Filtered]", "[Filtered]"),
            "sends them only with send_default_pii=True",
            id="sentry-sdk without PII",
        ),
        pytest.param(
            sentry_sdk_event(["ada@example.com"], {"discount": "Decimal('0.15')"}),
            "is the repr of an object",
            id="sentry-sdk: an object sent as its repr",
        ),
        pytest.param(
            sentry_sdk_event(
                ["ada@example.com"],
                {"name": "Ada"},
                _meta={"extra": {"celery-job": {"args": {"": {"len": 14}}}}},
            ),
            "the task's arguments were truncated",
            id="sentry-sdk trimmed",
        ),
        pytest.param(
            {
                "exception": {"values": [{"type": "RuntimeError"}]},
                "contexts": {"entry": {"argv": ["celery", "-A", "make_celery", "worker"]}},
            },
            "the failure happened under celery and the event records no request or task",
            id="a worker's event without its task",
        ),
    ],
)
def test_a_task_that_cannot_be_replayed_exactly_is_not(
    event: dict[str, Any], reason: str, repository: tuple[Path, Path, str]
) -> None:
    work, _, _ = repository
    with pytest.raises(CannotReproduce) as refused:
        reproductions_for(event, tracefix_git.read_project(work), sys.executable)
    assert reason in str(refused.value)


def test_a_task_run_eagerly_by_a_script_replays_the_script(
    repository: tuple[Path, Path, str],
) -> None:
    work, _, _ = repository
    event = sdk_event()
    event["contexts"]["entry"] = {"argv": ["scripts/welcome_all.py"], "cwd": "/srv/shop"}
    (work / "scripts").mkdir()
    (work / "scripts/welcome_all.py").write_text("")
    replays = reproductions_for(event, tracefix_git.read_project(work), sys.executable)
    assert [replay.kind for replay in replays] == ["command", "command"]
    assert replays[-1].argv[1:] == ("scripts/welcome_all.py",)
