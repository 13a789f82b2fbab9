"""CTX105 celery-task-without-app-context: codemods, diagnosis, detect, the cases run for real,
eagerly and on a real Celery worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import pytest

from tracefix.diagnose.project import Project
from tracefix.event import CeleryTask
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import assert_detect_finds_the_expected_fix
from tracefix.recipes._case_checks import assert_no_finding_leads_to_a_patch
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import copy_case
from tracefix.recipes._case_checks import detected
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import fixed_once
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes._imports import add_imports_in_file_style
from tracefix.recipes.celery_task import CeleryTaskWithoutAppContext
from tracefix.recipes.celery_task import fix
from tracefix.testing import load_case

RECIPE = CeleryTaskWithoutAppContext()
APP_MESSAGE = "Working outside of application context."


# --- codemods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "line", "column", "after"),
    [
        pytest.param(
            """
            def make_celery(app):
                celery = Celery(app.name)
                return celery
            """,
            2,
            13,
            """
            def make_celery(app):
                class FlaskTask(Task):
                    def __call__(self, *args, **kwargs):
                        with app.app_context():
                            return self.run(*args, **kwargs)

                celery = Celery(app.name, task_cls=FlaskTask)
                return celery
            """,
            id="in the hook, before the statement that makes the app",
        ),
        pytest.param(
            """
            def make_celery(app):
                return Celery()
            """,
            2,
            11,
            """
            def make_celery(app):
                class FlaskTask(Task):
                    def __call__(self, *args, **kwargs):
                        with app.app_context():
                            return self.run(*args, **kwargs)

                return Celery(task_cls=FlaskTask)
            """,
            id="a call without arguments",
        ),
        pytest.param(
            """
            def make_celery(app):
                celery = Celery(
                    app.import_name,
                    broker=app.config["BROKER"],
                )
                return celery
            """,
            2,
            13,
            """
            def make_celery(app):
                class FlaskTask(Task):
                    def __call__(self, *args, **kwargs):
                        with app.app_context():
                            return self.run(*args, **kwargs)

                celery = Celery(
                    app.import_name,
                    broker=app.config["BROKER"],
                    task_cls=FlaskTask,
                )
                return celery
            """,
            id="one argument per line, trailing comma",
        ),
        pytest.param(
            """
            def make_celery(app):
                celery = Celery(
                    app.import_name
                )
                return celery
            """,
            2,
            13,
            """
            def make_celery(app):
                class FlaskTask(Task):
                    def __call__(self, *args, **kwargs):
                        with app.app_context():
                            return self.run(*args, **kwargs)

                celery = Celery(
                    app.import_name,
                    task_cls=FlaskTask
                )
                return celery
            """,
            id="one argument per line, no trailing comma",
        ),
        pytest.param(
            """
            import os

            app = Flask(__name__)
            # the worker: celery -A app.celery worker
            celery = Celery(app.name, broker=os.environ["CELERY_BROKER"], include=["tasks", "a"])
            """,
            5,
            9,
            """
            import os

            app = Flask(__name__)


            class FlaskTask(Task):
                def __call__(self, *args, **kwargs):
                    with app.app_context():
                        return self.run(*args, **kwargs)


            # the worker: celery -A app.celery worker
            celery = Celery(
                app.name,
                broker=os.environ["CELERY_BROKER"],
                include=["tasks", "a"],
                task_cls=FlaskTask,
            )
            """,
            id="module level: two blank lines, the comment stays with its statement, long call",
        ),
    ],
)
def test_add_task_class(before, line, column, after):
    module = cst.parse_module(code(before))
    changed = fix.add_task_class(
        module, line, column, app="app", name="FlaskTask", base="Task", annotated=False
    )
    assert changed.code == code(after)


def test_add_task_class_annotated():
    module = cst.parse_module("def make(app: Flask) -> Celery:\n    return Celery(app.name)\n")
    changed = fix.add_task_class(
        module, 2, 11, app="app", name="FlaskTask", base="Task", annotated=True
    )
    assert "def __call__(self, *args: object, **kwargs: object) -> object:" in changed.code


@pytest.mark.parametrize(
    ("before", "reason"),
    [
        pytest.param("c = Celery('x', task_cls=Mine)\n", "already passes task_cls", id="task_cls"),
        pytest.param("c = Celery('x', **options)\n", "unpacks", id="unpacked options"),
        pytest.param("c = make('x')\n", "cannot find", id="no call there"),
    ],
)
def test_add_task_class_skips(before, reason):
    with pytest.raises(SkipFix, match=reason):
        fix.add_task_class(
            cst.parse_module(before), 1, 4, app="a", name="F", base="Task", annotated=False
        )


def test_wrap_function_body_keeps_the_docstring_and_skips_a_second_time():
    module = cst.parse_module('def work():\n    """Do it."""\n    db.session.commit()\n')
    wrapped = fix.wrap_function_body(module, "work", "app.app_context()")
    assert wrapped.code == (
        'def work():\n    """Do it."""\n    with app.app_context():\n        db.session.commit()\n'
    )
    with pytest.raises(SkipFix, match="already pushes"):
        fix.wrap_function_body(wrapped, "work", "app.app_context()")


def first_party(module: str) -> bool:
    return module in ("app", "shop")


@pytest.mark.parametrize(
    ("before", "statement", "after"),
    [
        pytest.param(
            "import click\n\nfrom app import db\n\nx = 1\n",
            "import os",
            "import os\n\nimport click\n\nfrom app import db\n\nx = 1\n",
            id="a standard library module gets a block above the third-party one",
        ),
        pytest.param(
            "import csv\nimport sys\n\nimport click\n\nx = 1\n",
            "import os",
            "import csv\nimport os\nimport sys\n\nimport click\n\nx = 1\n",
            id="in sorted place in the standard library block",
        ),
        pytest.param(
            "import csv\n\nimport click\n\nfrom shop import db\n\nx = 1\n",
            "from flask.cli import with_appcontext",
            "import csv\n\nimport click\nfrom flask.cli import with_appcontext\n\n"
            "from shop import db\n\nx = 1\n",
            id="third party joins the third-party block, after its import lines",
        ),
        pytest.param(
            '"""Doc."""\nimport os\n\nfrom shop import db\n\nx = 1\n',
            "from celery import Task",
            '"""Doc."""\nimport os\n\nfrom celery import Task\n\nfrom shop import db\n\nx = 1\n',
            id="a third-party block of its own between the others",
        ),
        pytest.param(
            "from celery import Celery\nfrom flask import Flask\nfrom flask import g\n\nx = 1\n",
            "from celery import Task",
            "from celery import Celery\nfrom celery import Task\nfrom flask import Flask\n"
            "from flask import g\n\nx = 1\n",
            id="one name per line",
        ),
        pytest.param(
            "from celery import Celery\nfrom flask import Flask, g\n\nx = 1\n",
            "from celery import Task",
            "from celery import Celery, Task\nfrom flask import Flask, g\n\nx = 1\n",
            id="names joined on one line",
        ),
    ],
)
def test_imports_go_where_isort_puts_them(before, statement, after):
    module = cst.parse_module(before)
    before_index = len(module.body) - 1
    changed = add_imports_in_file_style(
        module, [statement], before=before_index, is_first_party=first_party
    )
    assert changed.code == after


# --- diagnosis and plans on small projects ------------------------------------------------

FLASKR = code("""
    from celery import Celery
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()


    def create_app():
        app = Flask(__name__)
        db.init_app(app)
        celery_init_app(app)
        return app


    def celery_init_app(app):
        celery_app = Celery(app.name)
        celery_app.config_from_object(app.config["CELERY"])
        app.extensions["celery"] = celery_app
        return celery_app
""")
TASKS = code("""
    from celery import shared_task

    from flaskr import db


    @shared_task
    def count_users():
        return db.session.execute(db.text("select 1")).scalar()
""")
TASK_LINE = 8


def flaskr(files: dict[str, str] | None = None) -> Project:
    base = {"flaskr/__init__.py": FLASKR, "flaskr/tasks.py": TASKS}
    return Project({**base, **{path: code(text) for path, text in (files or {}).items()}})


def worker_event(
    path: str = "flaskr/tasks.py",
    function: str = "count_users",
    line: int = TASK_LINE,
    *,
    message: str = APP_MESSAGE,
    task: str | None = "flaskr.tasks.count_users",
    traced: bool = True,
) -> Event:
    """An event as the SDK sends it from a worker: Celery's tracer calls the task."""
    tracer = (
        Frame("/site-packages/celery/app/trace.py", "trace_task", 453)
        if traced
        else Frame("/site-packages/celery/app/task.py", "__call__", 411)
    )
    frames = (
        tracer,
        Frame(path, function, line, in_app=True),
        Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
    )
    celery = CeleryTask(task=task, task_id="8c2f") if task else None
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), celery=celery)


def fixed(project: Project, event: Event | None = None) -> dict[str, str]:
    return fixed_once(RECIPE, event or worker_event(), project)


def test_worker_event_gets_the_task_class_in_celery_init_app():
    project = flaskr()
    diagnosis = RECIPE.diagnose(worker_event(), project)
    assert diagnosis is not None
    assert "task id 8c2f" in diagnosis.explanation
    assert "flaskr/__init__.py:16 (celery_init_app())" in diagnosis.explanation
    changed = fixed(project)
    assert list(changed) == ["flaskr/__init__.py"]
    assert "from celery import Celery, Task\n" in changed["flaskr/__init__.py"]
    assert (
        "    celery_app = Celery(app.name, task_cls=FlaskTask)\n" in changed["flaskr/__init__.py"]
    )


def test_celery_made_in_the_factory_uses_its_local_app():
    factory = FLASKR[: FLASKR.index("def celery_init_app")].rstrip() + "\n"
    factory = factory.replace("    celery_init_app(app)\n", "    celery = Celery(app.name)\n")
    factory = factory.replace(
        "    return app\n", '    app.extensions["celery"] = celery\n    return app\n'
    )
    changed = fixed(flaskr({"flaskr/__init__.py": factory}))
    assert "    celery = Celery(app.name, task_cls=FlaskTask)\n" in changed["flaskr/__init__.py"]


def test_task_declared_on_the_app_celery_init_app_keeps_in_extensions():
    worker = """
        from flaskr import create_app

        flask_app = create_app()
        celery_app = flask_app.extensions["celery"]
    """
    tasks = TASKS.replace(
        "from celery import shared_task\n", "from make_celery import celery_app\n"
    )
    tasks = tasks.replace("@shared_task", "@celery_app.task")
    changed = fixed(flaskr({"flaskr/tasks.py": tasks, "make_celery.py": worker}))
    assert "Celery(app.name, task_cls=FlaskTask)" in changed["flaskr/__init__.py"]


def test_make_celery_hook_with_a_module_level_app():
    web = """
        from celery import Celery
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy


        def make_celery(app):
            celery = Celery(app.import_name)
            celery.conf.update(app.config)
            return celery


        app = Flask(__name__)
        db = SQLAlchemy(app)
        celery = make_celery(app)
    """
    tasks = """
        from shop import celery, db


        @celery.task()
        def close():
            db.session.commit()
    """
    project = Project({"shop/__init__.py": code(web), "shop/tasks.py": code(tasks)})
    event = worker_event("shop/tasks.py", "close", 6, task="shop.tasks.close")
    changed = fixed(project, event)
    assert (
        "    celery = Celery(app.import_name, task_cls=FlaskTask)\n" in changed["shop/__init__.py"]
    )


def test_celery_made_without_the_app_pushes_in_the_task_with_the_module_app():
    web = """
        from celery import Celery
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        db = SQLAlchemy(app)


        def make_celery():
            return Celery("proj")


        celery = make_celery()


        @celery.task
        def work():
            db.session.commit()
    """
    project = Project({"proj.py": code(web)})
    changed = fixed(project, worker_event("proj.py", "work", 18, task="proj.work"))
    assert (
        "def work():\n    with app.app_context():\n        db.session.commit()\n"
        in (changed["proj.py"])
    )


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {
                "flaskr/__init__.py": FLASKR.replace(
                    "Celery(app.name)", "Celery(app.name, task_cls=Mine)"
                )
            },
            "already has a task class (Mine)",
            id="the Celery app has a task class",
        ),
        pytest.param(
            {"flaskr/worker.py": "from flaskr import create_app\n\nc = create_app()\nc.Task = T\n"},
            "sets a Celery app's task class",
            id="a task class assigned elsewhere",
        ),
        pytest.param(
            {"flaskr/tasks.py": TASKS.replace("@shared_task", "@shared_task(base=Audited)")},
            "base=Audited",
            id="the task has its own base class",
        ),
        pytest.param(
            {
                "flaskr/tasks.py": TASKS.replace(
                    "from flaskr import db", "from flask import request\n\nfrom flaskr import db"
                ).replace("    return db", "    print(request.path)\n    return db")
            },
            "reads request",
            id="the task reads the request",
        ),
        pytest.param(
            {"flaskr/other.py": "from celery import Celery\n\nother = Celery('other')\n"},
            "makes its app with create_app()",
            id="two Celery apps: a shared task's is unclear, and the app comes from a factory",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = flaskr(files)
    line = next(
        number
        for number, text in enumerate(project.source("flaskr/tasks.py").splitlines(), 1)
        if "return db" in text
    )
    diagnosis = RECIPE.diagnose(worker_event(line=line), project)
    assert diagnosis is not None
    assert "No fix is offered" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


def test_task_class_name_and_task_import_that_are_taken_are_avoided():
    factory = FLASKR.replace(
        "from flask import Flask\n", "from flask import Flask\n\nfrom flaskr.models import Task\n"
    ).replace(
        "from flaskr.models import Task\n", "from flaskr.models import Task\n\nFlaskTask = 1\n"
    )
    changed = fixed(flaskr({"flaskr/__init__.py": factory}))
    text = changed["flaskr/__init__.py"]
    assert "from celery import Celery, Task as CeleryTask\n" in text
    assert "    class AppContextTask(CeleryTask):\n" in text


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(worker_event(message="Working outside of request context."), id="request"),
        pytest.param(worker_event(traced=False), id="task called directly, not by Celery"),
        pytest.param(
            worker_event(task="flaskr.tasks.other_task"), id="the event names another task"
        ),
        pytest.param(worker_event(function="helper"), id="the frame is not a task"),
    ],
)
def test_not_diagnosed(event):
    assert RECIPE.diagnose(event, flaskr()) is None


def test_an_error_trackers_wrapper_between_the_tracer_and_the_task_is_passed_over():
    tracer, task, werkzeug = worker_event().frames
    wrapper = Frame("/site-packages/sentry_sdk/integrations/celery/__init__.py", "_inner", 1)
    frames = (tracer, wrapper, task, werkzeug)
    wrapped = Event((ExceptionInfo("RuntimeError", APP_MESSAGE, frames=frames),))
    assert RECIPE.diagnose(wrapped, flaskr()) is not None


def test_a_project_function_the_tracer_runs_that_is_not_a_task_is_not_diagnosed():
    tracer, task, werkzeug = worker_event().frames
    handler = Frame("flaskr/signals.py", "on_prerun", 2, in_app=True)
    frames = (tracer, handler, task, werkzeug)
    signals = {"flaskr/signals.py": "def on_prerun(**kwargs):\n    pass\n"}
    handled = Event((ExceptionInfo("RuntimeError", APP_MESSAGE, frames=frames),))
    assert RECIPE.diagnose(handled, flaskr(signals)) is None


def test_task_that_already_pushes_is_not_diagnosed():
    tasks = TASKS.replace(
        "    return db.session", "    with current_app.app_context():\n        return db.session"
    )
    assert RECIPE.diagnose(worker_event(line=9), flaskr({"flaskr/tasks.py": tasks})) is None


def test_a_task_class_elsewhere_in_the_project_does_not_hide_the_failure():
    """The event is the truth: the task failed, so whatever else pushes did not cover it."""
    for push in ("app.app_context().push()\n", "ctx = app.app_context()\nctx.push()\n"):
        worker = "from flaskr import create_app\n\napp = create_app()\n" + push
        project = flaskr({"worker.py": worker})
        assert RECIPE.diagnose(worker_event(), project) is not None
        assert list(RECIPE.detect("flaskr/tasks.py", project)) == []


# --- detect -------------------------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    case = load_case(case_dir)
    diagnosis = assert_detect_finds_the_expected_fix(RECIPE, case)
    assert diagnosis.location.column > 0
    from_event = RECIPE.diagnose(case.event, case.project)
    assert from_event is not None
    found_task, failed_task = diagnosis.facts["task"], from_event.facts["task"]
    assert (found_task["path"], found_task["function"]) == (
        failed_task["path"],
        failed_task["function"],
    )


#: Noop cases whose worker fails for sure, where only the fix declines: the scan reports
#: them, unfixable, with the reason. A task on a class of the project's own (``base=``) may
#: push the context there, and a task that reads ``request`` fails some other way: silent.
REPORTED_WITHOUT_FIX = ("skip_factory_configures_module_celery", "skip_factory_module_celery")


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_offers_no_fix_on_a_noop_case(case_dir):
    case = load_case(case_dir)
    assert_no_finding_leads_to_a_patch(RECIPE, case)
    found = detected(RECIPE, case)
    assert len(found) == (case_dir.name in REPORTED_WITHOUT_FIX)
    for diagnosis in found:
        assert not RECIPE.offers_fix(diagnosis)
        assert f"No fix is offered: {diagnosis.facts['reason']}." in diagnosis.explanation
        recorded = RECIPE.diagnose(case.event, case.project)
        assert recorded is not None and recorded.facts["task"] == diagnosis.facts["task"]


def test_detect_ignores_tasks_that_use_nothing_of_flask():
    tasks = TASKS.replace(
        '    return db.session.execute(db.text("select 1")).scalar()', "    return 1"
    )
    assert list(RECIPE.detect("flaskr/tasks.py", flaskr({"flaskr/tasks.py": tasks}))) == []


def test_detect_reports_the_first_use_with_its_column():
    [diagnosis] = RECIPE.detect("flaskr/tasks.py", flaskr())
    assert (diagnosis.location.line, diagnosis.location.column) == (TASK_LINE, 12)
    assert "uses `db.session`" in diagnosis.explanation


# --- the cases, run for real --------------------------------------------------------------


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0
    assert APP_MESSAGE in before.output
    assert after.returncode == 0, after.output


# --- a real worker ------------------------------------------------------------------------

REDIS = ("127.0.0.1", 6379)
#: This recipe's own Redis database, so nothing else's keys meet its tasks.
REDIS_URL = f"redis://{REDIS[0]}:{REDIS[1]}/12"


@dataclass(frozen=True)
class WorkerRun:
    """How to run a case's task on a worker: the worker's ``-A`` app, and the client's code,
    which sends the task to ``QUEUE`` and prints what ``get()`` returns."""

    celery_app: str
    client: str
    expected: str
    pythonpath: str = ""


WORKER_RUNS = {
    "factory_package_celery_init_app": WorkerRun(
        "make_celery",
        """
        from flaskr import create_app, db
        app = create_app()
        with app.app_context():
            from flaskr import models
            db.create_all()
        from flaskr.tasks import count_users
        print(count_users.apply_async(queue=QUEUE).get(timeout=60))
        """,
        "0",
    ),
    "module_app_make_celery": WorkerRun(
        "shop:celery",
        """
        from shop.tasks import close_stale_orders
        print(close_stale_orders.apply_async(queue=QUEUE).get(timeout=60))
        """,
        "0",
    ),
    "module_celery_without_app": WorkerRun(
        "proj.celery_app",
        """
        import proj.web
        from proj.tasks import send_invoice_reminders
        print(send_invoice_reminders.apply_async(queue=QUEUE).get(timeout=60))
        """,
        "0",
    ),
    "src_layout_annotated_init_app": WorkerRun(
        "acme.worker",
        """
        from acme.web import create_app
        from acme.web.extensions import db
        app = create_app()
        with app.app_context():
            from acme.reports import models
            db.create_all()
        from acme.reports.tasks import monthly_report
        print(monthly_report.apply_async(("2024-01",), queue=QUEUE).get(timeout=60)["total"])
        """,
        "0",
        pythonpath="src",
    ),
}


def require_redis() -> None:
    try:
        socket.create_connection(REDIS, timeout=2).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS[0]}:{REDIS[1]} on CI")
        pytest.skip(f"no Redis at {REDIS[0]}:{REDIS[1]}")


def run_on_worker(root: Path, run: WorkerRun) -> tuple[subprocess.CompletedProcess[str], str]:
    """Start a worker for the project at ``root`` on a queue of its own, run the client, stop
    the worker; return the client's outcome and the worker's log."""
    queue = f"tracefix-ctx105-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "DATABASE_URL": f"sqlite:///{root / 'worker.db'}",
        "PYTHONPATH": str(root / run.pythonpath) if run.pythonpath else str(root),
    }
    log = root / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", run.celery_app, "worker",
                "--pool", "solo", "--queues", queue, "--hostname", f"{queue}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "INFO",
            ],
            cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_until_ready(worker, log)
            client = subprocess.run(
                [sys.executable, "-c", f"QUEUE = {queue!r}\n" + textwrap.dedent(run.client)],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    return client, log.read_text()


def _wait_until_ready(worker: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Until the worker says it is ready (or ends, or ``timeout`` passes): a project whose
    modules create tables on import (``module_celery_without_app``) would otherwise race the
    client to create them in the same SQLite file, as a deployment that sends tasks before its
    worker is up does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        if " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.1)


@pytest.mark.parametrize("case_name", sorted(WORKER_RUNS))
def test_fixed_task_succeeds_on_a_real_worker(case_name, tmp_path):
    require_redis()
    case_dir = Path(__file__).parent / "cases" / case_name
    run = WORKER_RUNS[case_name]

    root = copy_case(case_dir, tmp_path / "before", fixed=False)
    client, log = run_on_worker(root, run)
    assert client.returncode != 0, client.stdout + log
    assert APP_MESSAGE in client.stderr, client.stderr + log
    assert "raised unexpected: RuntimeError('Working outside of application context" in log

    root = copy_case(case_dir, tmp_path / "after", fixed=True)
    client, log = run_on_worker(root, run)
    assert client.returncode == 0, client.stderr + log
    assert client.stdout.strip() == run.expected
    assert "succeeded in" in log
