"""CTX113 scheduled-job-without-app-context: handoffs, diagnosis, fix, detect, and the cases."""

from __future__ import annotations

import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._case_checks import assert_detect_finds_the_expected_fix
from tracefix.recipes._case_checks import assert_no_finding_leads_to_a_patch
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import count_findings_without_libcst
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.scheduled_job import ScheduledJobWithoutAppContext
from tracefix.recipes.scheduled_job.handoff import ONE_BY_ONE
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.testing import load_case

RECIPE = ScheduledJobWithoutAppContext()
APP_MESSAGE = "Working outside of application context."
APSCHEDULER_RUN_JOB = Frame("/site-packages/apscheduler/executors/base.py", "run_job", 131)
SCHEDULE_RUN = Frame("/site-packages/schedule/__init__.py", "run", 691)
WERKZEUG = Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519)


def job_event(
    path: str,
    function: str,
    line: int,
    *,
    runner: Frame = APSCHEDULER_RUN_JOB,
    message: str = APP_MESSAGE,
    thread: str = "ThreadPoolExecutor-0_0",
) -> Event:
    frames = (runner, Frame(path, function, line, in_app=True), WERKZEUG)
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name=thread)


def line_of(project: Project, path: str, text: str) -> int:
    source = project.source(path) or ""
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


# --- where jobs are handed to a scheduler --------------------------------------------------

EXTENSIONS = code("""
    from apscheduler.schedulers.background import BackgroundScheduler
    from flask_apscheduler import APScheduler

    plain = BackgroundScheduler()
    flask_scheduler = APScheduler()
""")


@pytest.mark.parametrize(
    ("registration", "runner", "form"),
    [
        pytest.param(
            "from shop.ext import plain\nplain.add_job(sync, 'interval', minutes=5)\n",
            "apscheduler",
            "argument",
            id="add_job on an imported BackgroundScheduler",
        ),
        pytest.param(
            "from shop import ext\next.plain.add_job(func=sync, trigger='cron', hour=1)\n",
            "apscheduler",
            "argument",
            id="add_job through the module, func by keyword",
        ),
        pytest.param(
            "from shop.ext import flask_scheduler as s\ns.add_job('sync', sync, trigger='cron')\n",
            "flask_apscheduler",
            "argument",
            id="Flask-APScheduler add_job(id, func) under an alias",
        ),
        pytest.param(
            "import schedule\nschedule.every(10).minutes.do(sync, 1)\n",
            "schedule",
            "argument",
            id="schedule.every().do",
        ),
        pytest.param(
            "import schedule\nrunner = schedule.Scheduler()\n"
            "runner.every().day.at('01:00').do(sync)\n",
            "schedule",
            "argument",
            id="a schedule.Scheduler of its own",
        ),
        pytest.param(
            "JOBS = [{'id': 'sync', 'func': 'shop.tasks:sync', 'trigger': 'interval'}]\n",
            "apscheduler",
            "string",
            id="textual reference in Flask-APScheduler's JOBS",
        ),
        pytest.param(
            "from apscheduler.schedulers.blocking import BlockingScheduler\n\n\ndef main():\n"
            "    with_scheduler = BlockingScheduler()\n    with_scheduler.add_job(sync, 'cron')\n",
            "apscheduler",
            "argument",
            id="a local scheduler in a function",
        ),
    ],
)
def test_registrations_are_handoffs(registration, runner, form):
    project = Project(
        {
            "shop/__init__.py": "",
            "shop/ext.py": EXTENSIONS,
            "shop/tasks.py": "from shop.jobs import *\n\n\ndef sync(n=0):\n    pass\n",
            "shop/jobs.py": "from shop.tasks import sync\n" + registration,
        }
    )
    [found] = [h for h in references(project, "shop/tasks.py", "sync") if h.path == "shop/jobs.py"]
    assert (found.runner, found.form) == (runner, form)


@pytest.mark.parametrize(
    ("tasks", "runner"),
    [
        pytest.param(
            "from shop.ext import plain\n\n\n@plain.scheduled_job('interval', minutes=1)\n"
            "def sync():\n    pass\n",
            "apscheduler",
            id="scheduled_job decorator",
        ),
        pytest.param(
            "from shop.ext import flask_scheduler\n\n\n@flask_scheduler.task('cron', id='s')\n"
            "def sync():\n    pass\n",
            "flask_apscheduler",
            id="Flask-APScheduler task decorator",
        ),
        pytest.param(
            "import schedule\n\n\n@schedule.repeat(schedule.every().hour)\ndef sync():\n    pass\n",
            "schedule",
            id="schedule.repeat decorator",
        ),
    ],
)
def test_decorators_are_handoffs(tasks, runner):
    project = Project({"shop/__init__.py": "", "shop/ext.py": EXTENSIONS, "shop/tasks.py": tasks})
    [found] = references(project, "shop/tasks.py", "sync")
    assert (found.runner, found.form) == (runner, "decorator")


@pytest.mark.parametrize(
    "registration",
    [
        pytest.param("self_scheduler.add_job(sync)\n", id="receiver of unknown kind"),
        pytest.param("import queue\nqueue.Queue().put(sync)\n", id="handed to something else"),
        pytest.param("sync()\n", id="direct call"),
    ],
)
def test_other_references_are_not_handoffs(registration):
    project = Project(
        {
            "tasks.py": "def sync():\n    pass\n",
            "jobs.py": "from tasks import sync\nself_scheduler = object()\n" + registration,
        }
    )
    found = references(project, "tasks.py", "sync")
    assert found and not any(h.is_handoff for h in found)


def test_references_are_the_same_asked_one_by_one_or_from_the_index_of_all():
    """The first ``ONE_BY_ONE`` functions asked about are looked for in the files that name
    them; after that, one walk of every file answers for all: the same answers."""
    jobs = [f"job_{number}" for number in range(ONE_BY_ONE + 4)]
    tasks = "".join(f"def {job}():\n    pass\n\n\n" for job in jobs)
    registrations = "".join(f"plain.add_job({job})\n{job}()\n" for job in jobs)
    project = {
        "shop/__init__.py": "",
        "shop/ext.py": EXTENSIONS,
        "shop/tasks.py": tasks,
        "shop/schedule.py": (
            f"from shop.ext import plain\nfrom shop.tasks import {', '.join(jobs)}\n{registrations}"
        ),
    }

    def answers(order: list[str]) -> dict[str, list[tuple[str, int, str | None]]]:
        fresh = Project(project)
        return {
            job: [(h.path, h.line, h.runner) for h in references(fresh, "shop/tasks.py", job)]
            for job in order
        }

    forwards, backwards = answers(jobs), answers(jobs[::-1])
    assert forwards == backwards
    assert all(
        [runner for _, _, runner in found] == ["apscheduler", "call"] for found in forwards.values()
    )


# --- diagnosis and fix on small projects ---------------------------------------------------

MODULE_APP = code("""
    from apscheduler.schedulers.background import BackgroundScheduler
    from flask import Flask
    from flask import current_app

    app = Flask(__name__)
    scheduler = BackgroundScheduler()


    def tick():
        current_app.logger.info("tick")


    scheduler.add_job(tick, "interval", minutes=1)
""")


def test_module_app_wraps_the_job_body():
    project = Project({"app.py": MODULE_APP})
    diagnosis = RECIPE.diagnose(job_event("app.py", "tick", 10), project)
    assert diagnosis is not None
    assert "app.py:13" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert "def tick():\n    with app.app_context():\n        current_app" in change.after
    again = apply_fix(RECIPE, diagnosis, project.with_changes({"app.py": change.after}))
    assert isinstance(again, FixSkip)


FACTORY = code("""
    from apscheduler.schedulers.background import BackgroundScheduler
    from flask import Flask

    scheduler = BackgroundScheduler()


    def create_app():
        app = Flask(__name__)
        from shop.tasks import sync

        scheduler.add_job(sync, "interval", minutes=5)
        return app
""")
TASKS = code("""
    from flask import current_app


    def sync(*numbers):
        current_app.logger.info("sync %s", numbers)
""")


@pytest.mark.parametrize(
    ("registration", "expected"),
    [
        pytest.param(
            'scheduler.add_job(sync, "interval", minutes=5)',
            'scheduler.add_job(sync, "interval", minutes=5, args=[app])',
            id="args added",
        ),
        pytest.param(
            'scheduler.add_job(sync, "interval", args=(1,), minutes=5)',
            'scheduler.add_job(sync, "interval", args=(app, 1), minutes=5)',
            id="one-element tuple gets the app first",
        ),
        pytest.param(
            'scheduler.add_job(sync, "interval", [1, 2])',
            'scheduler.add_job(sync, "interval", [app, 1, 2])',
            id="positional args list",
        ),
    ],
)
def test_factory_passes_its_app_to_the_job(registration, expected):
    factory = FACTORY.replace('scheduler.add_job(sync, "interval", minutes=5)', registration)
    project = Project({"shop/__init__.py": factory, "shop/tasks.py": TASKS})
    diagnosis = RECIPE.diagnose(job_event("shop/tasks.py", "sync", 5), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    changed = {c.path: c.after for c in result.changes}
    assert expected in changed["shop/__init__.py"]
    assert "def sync(app, *numbers):\n    with app.app_context():\n" in changed["shop/tasks.py"]


def test_flask_apscheduler_add_job_elsewhere_uses_the_schedulers_app():
    ext = "from flask_apscheduler import APScheduler\n\nscheduler = APScheduler()\n"
    tasks = "from shop.ext import scheduler\n" + TASKS
    factory = code("""
        from flask import Flask

        from shop.ext import scheduler
        from shop.tasks import sync


        def create_app():
            app = Flask(__name__)
            scheduler.init_app(app)
            scheduler.add_job("sync", sync, trigger="interval", minutes=5)
            return app
    """)
    project = Project({"shop/__init__.py": factory, "shop/ext.py": ext, "shop/tasks.py": tasks})
    diagnosis = RECIPE.diagnose(job_event("shop/tasks.py", "sync", 6), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert "    with scheduler.app.app_context():\n" in change.after


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {"shop/cli.py": "from shop.tasks import sync\n\nJOBS = [sync]\n"},
            "also used at shop/cli.py:3",
            id="job also handed to something else",
        ),
        pytest.param(
            {
                "shop/__init__.py": FACTORY.replace(
                    "BackgroundScheduler()",
                    "BackgroundScheduler(jobstores={'default': SQLAlchemyJobStore(url=URL)})",
                )
            },
            "job store",
            id="persistent job store pickles arguments",
        ),
        pytest.param(
            {"shop/__init__.py": FACTORY.replace("minutes=5)", 'minutes=5, kwargs={"app": None})')},
            "may already pass an app",
            id="kwargs pass an app",
        ),
        pytest.param(
            {
                "shop/__init__.py": FACTORY.replace(
                    '"interval", minutes=5', '"interval", args=numbers, minutes=5'
                )
            },
            "not a list or tuple",
            id="args in a variable",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    "import current_app", "import current_app, request"
                ).replace('"sync %s", numbers', '"sync %s", request.path')
            },
            "reads request",
            id="job reads the request",
        ),
        pytest.param(
            {"shop/__init__.py": FACTORY.replace("app = Flask(__name__)", "flask_app = None")},
            "there is no app at hand",
            id="no app where the job is registered",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = Project({"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, **files})
    diagnosis = RECIPE.diagnose(
        job_event("shop/tasks.py", "sync", line_of(project, "shop/tasks.py", "logger")), project
    )
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


def test_job_a_view_also_calls_is_registered_through_a_wrapper():
    cli = "from shop.tasks import sync\n\n\ndef main():\n    sync()\n"
    project = Project({"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, "shop/cli.py": cli})
    diagnosis = RECIPE.diagnose(job_event("shop/tasks.py", "sync", 5), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.path == "shop/__init__.py"
    assert change.after == code('''
        from apscheduler.schedulers.background import BackgroundScheduler
        from flask import Flask

        scheduler = BackgroundScheduler()


        def create_app():
            app = Flask(__name__)
            from shop.tasks import sync

            def sync_in_app_context(*args, **kwargs):
                """sync() in an app context: the scheduler runs its jobs without one."""
                with app.app_context():
                    return sync(*args, **kwargs)

            scheduler.add_job(sync_in_app_context, "interval", minutes=5)
            return app
    ''')
    again = apply_fix(RECIPE, diagnosis, project.with_changes({change.path: change.after}))
    assert isinstance(again, FixSkip)


@pytest.mark.parametrize(
    ("event", "source"),
    [
        pytest.param(
            job_event("app.py", "tick", 10, message="Working outside of request context."),
            MODULE_APP,
            id="request context error",
        ),
        pytest.param(
            Event(
                (
                    ExceptionInfo(
                        "RuntimeError",
                        APP_MESSAGE,
                        frames=(Frame("app.py", "tick", 10, in_app=True), WERKZEUG),
                    ),
                ),
                thread_name="MainThread",
            ),
            MODULE_APP,
            id="no scheduler frame",
        ),
        pytest.param(
            job_event("app.py", "tick", 11),
            MODULE_APP.replace(
                '    current_app.logger.info("tick")',
                '    with app.app_context():\n        current_app.logger.info("tick")',
            ),
            id="job already pushes a context",
        ),
        pytest.param(
            Event(
                (
                    ExceptionInfo(
                        "RuntimeError",
                        APP_MESSAGE,
                        frames=(
                            APSCHEDULER_RUN_JOB,
                            Frame("app.py", "<lambda>", 13, in_app=True),
                            Frame("app.py", "tick", 10, in_app=True),
                            WERKZEUG,
                        ),
                    ),
                ),
            ),
            MODULE_APP.replace("scheduler.add_job(tick,", "scheduler.add_job(lambda: tick(),"),
            id="job handed as a lambda: the scheduler ran the lambda",
        ),
    ],
)
def test_not_diagnosed(event, source):
    assert RECIPE.diagnose(event, Project({"app.py": source})) is None


def test_a_job_registered_beyond_reading_is_diagnosed_without_a_patch():
    source = MODULE_APP.replace(
        "scheduler.add_job(tick,", "jobs = [tick]\nscheduler.add_job(*jobs,"
    )
    project = Project({"app.py": source})
    diagnosis = RECIPE.diagnose(job_event("app.py", "tick", 10, runner=SCHEDULE_RUN), project)
    assert diagnosis is not None
    assert "registered by code tracefix cannot follow" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert "cannot be followed in the code (it is used at app.py:13" in result.reason


# --- detect: the static check, and scan --fix through the same codemod ---------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    diagnosis = assert_detect_finds_the_expected_fix(RECIPE, load_case(case_dir))
    assert diagnosis.location.column > 0


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_is_silent_on_noop_cases_or_their_fix_skips(case_dir):
    assert_no_finding_leads_to_a_patch(RECIPE, load_case(case_dir))


def test_detect_skips_jobs_that_need_no_context_or_have_one():
    source = MODULE_APP + code("""

        def quiet():
            print("nothing from Flask")


        def wrapped():
            with app.app_context():
                current_app.logger.info("ok")


        scheduler.add_job(quiet, "interval", minutes=1)
        scheduler.add_job(wrapped, "interval", minutes=1)
    """)
    found = list(RECIPE.detect("app.py", Project({"app.py": source})))
    assert [d.facts["target"]["function"] for d in found] == ["tick"]
    assert (found[0].location.line, found[0].location.column) == (10, 5)


# --- the cases, run for real ---------------------------------------------------------------

FAILURE_SIGNS = ("Working outside of", "Traceback", "raised an exception")


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0 and "Working outside of" in before.output, before.output
    assert after.returncode == 0, after.output
    assert not any(sign in after.output for sign in FAILURE_SIGNS), after.output


# --- the scan path stays on ast --------------------------------------------------------------


def test_detect_of_the_handoff_recipes_never_imports_libcst():
    recipes = [
        "scheduled_job",
        "exit_handler",
        "greenlet_target",
        "process_target",
        "async_executor",
    ]
    assert count_findings_without_libcst(recipes) > 0


# --- apps.app_name_at: the app at hand where a function is handed over ----------------------

APP_SOURCES = {
    "shop/__init__.py": code("""
        from flask import Flask


        def create_app():
            app = Flask(__name__)
            return app
    """),
    "worker.py": code("""
        from flask import Flask

        from shop import create_app

        app = create_app()


        def main(app=None):
            return app


        def build():
            flask_app = Flask(__name__)
            other = 1
            return flask_app


        def typed(application: Flask):
            return application
    """),
}


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        pytest.param("worker.py", "app = create_app()", None, id="before the module's app"),
        pytest.param("worker.py", "return app", None, id="a parameter hides the module's app"),
        pytest.param("worker.py", "other = 1", "flask_app", id="a local Flask()"),
        pytest.param(
            "worker.py", "return application", "application", id="a parameter typed Flask"
        ),
        pytest.param("shop/__init__.py", "return app", "app", id="inside the factory"),
    ],
)
def test_app_name_at(path, text, expected):
    from tracefix.diagnose.apps import app_name_at

    project = Project(APP_SOURCES)
    assert app_name_at(project, path, line_of(project, path, text)) == expected


def test_app_name_at_module_level_after_the_app():
    from tracefix.diagnose.apps import app_name_at

    project = Project({**APP_SOURCES, "worker.py": APP_SOURCES["worker.py"] + "\nrun = 1\n"})
    assert app_name_at(project, "worker.py", line_of(project, "worker.py", "run = 1")) == "app"
