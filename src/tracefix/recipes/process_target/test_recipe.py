"""CTX116 process-target-without-app-context: child frames, diagnosis, fix, detect, the cases."""

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
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.process_target import ProcessTargetWithoutAppContext
from tracefix.recipes.process_target.remote import child_frames
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.testing import load_case

RECIPE = ProcessTargetWithoutAppContext()
APP_MESSAGE = "Working outside of application context."
WERKZEUG = Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519)


def process_event(path: str, function: str, line: int, message: str = APP_MESSAGE) -> Event:
    frames = (
        Frame("/stdlib/multiprocessing/process.py", "_bootstrap", 314),
        Frame("/stdlib/multiprocessing/process.py", "run", 108),
        Frame(path, function, line, in_app=True),
        WERKZEUG,
    )
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name="MainThread")


def pool_event(root: str, path: str, function: str, line: int) -> Event:
    remote = (
        '\n"""\nTraceback (most recent call last):\n'
        '  File "/usr/lib/python3.11/multiprocessing/pool.py", line 125, in worker\n'
        "    result = (True, func(*args, **kwds))\n"
        '  File "/usr/lib/python3.11/multiprocessing/pool.py", line 48, in mapstar\n'
        "    return list(map(*args))\n"
        f'  File "{root}{path}", line {line}, in {function}\n'
        "    return current_app.name\n"
        '  File "/venv/lib/python3.11/site-packages/werkzeug/local.py", line 519, in x\n'
        "    raise RuntimeError(unbound_message) from None\n"
        f'RuntimeError: {APP_MESSAGE}\n"""'
    )
    parent = (
        Frame("run.py", "<module>", 5, abs_path=f"{root}run.py", in_app=True),
        Frame("/usr/lib/python3.11/multiprocessing/pool.py", "get", 774),
    )
    return Event(
        (
            ExceptionInfo("RemoteTraceback", remote, module="multiprocessing.pool"),
            ExceptionInfo("RuntimeError", APP_MESSAGE, frames=parent),
        ),
        thread_name="MainThread",
    )


TASKS = "from flask import current_app\n\n\ndef work(n):\n    return current_app.name\n"


def test_child_frames_are_read_from_the_remote_traceback_under_the_projects_root():
    project = Project({"shop/tasks.py": TASKS, "run.py": ""})
    frames = child_frames(pool_event("/srv/app/", "shop/tasks.py", "work", 5), project)
    assert [(f.filename, f.function, f.in_app) for f in frames] == [
        ("/usr/lib/python3.11/multiprocessing/pool.py", "worker", False),
        ("/usr/lib/python3.11/multiprocessing/pool.py", "mapstar", False),
        ("shop/tasks.py", "work", True),
        ("/venv/lib/python3.11/site-packages/werkzeug/local.py", "x", False),
    ]
    assert frames[2].context_line == "return current_app.name"


MODULE_APP = code("""
    import multiprocessing

    from flask import Flask
    from flask import current_app

    app = Flask(__name__)


    def work(n):
        return current_app.name


    if __name__ == "__main__":
        with multiprocessing.Pool(2) as pool:
            pool.map(work, [1, 2])
""")


def test_pool_target_in_a_module_with_the_app_pushes_it():
    project = Project({"app.py": MODULE_APP, "run.py": ""})
    diagnosis = RECIPE.diagnose(pool_event("/srv/app/", "app.py", "work", 10), project)
    assert diagnosis is not None and "a process pool" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    assert "def work(n):\n    with app.app_context():\n" in result.changes[0].after


FACTORY = code("""
    from flask import Flask


    def create_app(config="default"):
        app = Flask(__name__)
        return app
""")
MANAGE = "from shop import create_app\n\napp = create_app('production')\n"
STARTS = code("""
    import multiprocessing

    from shop.tasks import work

    multiprocessing.Process(target=work, args=(1,)).start()
""")


def test_process_target_makes_the_app_the_projects_way():
    project = Project(
        {"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, "manage.py": MANAGE, "run.py": STARTS}
    )
    diagnosis = RECIPE.diagnose(process_event("shop/tasks.py", "work", 5), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    # The project's import in a section of its own below Flask's, as isort has it.
    assert change.after == code("""
        from flask import current_app

        from shop import create_app


        def work(n):
            app = create_app('production')
            with app.app_context():
                return current_app.name
    """)
    again = apply_fix(RECIPE, diagnosis, project.with_changes({change.path: change.after}))
    assert isinstance(again, FixSkip)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {
                "run.py": STARTS.replace(
                    "multiprocessing.Process(target=work, args=(1,)).start()",
                    "multiprocessing.Pool().map(work, [1])",
                )
            },
            "once per task",
            id="pool with a factory",
        ),
        pytest.param(
            {"cli.py": "from shop.tasks import work\n\nwork(1)\n"},
            "also called at cli.py:3",
            id="called directly",
        ),
        pytest.param(
            {"shop/tasks.py": TASKS.replace("def work(n):", "def work(n, app=None):")},
            "local 'app'",
            id="the function has an app of its own",
        ),
        pytest.param(
            {
                "shop/__init__.py": "from shop import tasks  # noqa: F401\n" + FACTORY,
                "manage.py": "",
            },
            "cannot be found without guessing",
            id="the app's module imports the function's",
        ),
    ],
)
def test_fix_skips(files, reason):
    base = {
        "shop/__init__.py": FACTORY,
        "shop/tasks.py": TASKS,
        "manage.py": MANAGE,
        "run.py": STARTS,
    }
    project = Project({**base, **files})
    diagnosis = RECIPE.diagnose(process_event("shop/tasks.py", "work", 5), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            process_event("shop/tasks.py", "work", 5, "Working outside of request context."),
            id="request error",
        ),
        pytest.param(
            Event(
                (
                    ExceptionInfo(
                        "RuntimeError",
                        APP_MESSAGE,
                        frames=(Frame("shop/tasks.py", "work", 5, in_app=True), WERKZEUG),
                    ),
                )
            ),
            id="no process frame",
        ),
    ],
)
def test_not_diagnosed(event):
    project = Project({"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, "run.py": STARTS})
    assert RECIPE.diagnose(event, project) is None


def test_process_handoffs_through_contexts_and_pools():
    project = Project(
        {
            "tasks.py": "def work(n):\n    pass\n",
            "run.py": code("""
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from tasks import work

            ctx = mp.get_context("spawn")
            ctx.Process(target=work).start()
            with ctx.Pool(2) as pool:
                pool.apply_async(work, (1,))
            with ProcessPoolExecutor() as executor:
                executor.submit(work, 1)
        """),
        }
    )
    assert [h.runner for h in references(project, "tasks.py", "work")] == [
        "process",
        "pool",
        "pool",
    ]


# --- detect and the cases ------------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    assert_detect_finds_the_expected_fix(RECIPE, load_case(case_dir))


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_on_noop_cases_never_leads_to_a_patch(case_dir):
    assert_no_finding_leads_to_a_patch(RECIPE, load_case(case_dir))


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0, before.output
    assert "Working outside of application context" in before.output, before.output
    assert after.returncode == 0 and "Traceback" not in after.output, after.output
