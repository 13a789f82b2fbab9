"""CTX115 greenlet-target-without-app-context: diagnosis, fix, detect, and the cases for real."""

from __future__ import annotations

import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._case_checks import LOGGING_TASK
from tracefix.recipes._case_checks import assert_detect_finds_the_expected_fix
from tracefix.recipes._case_checks import assert_no_finding_leads_to_a_patch
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.greenlet_target import GreenletTargetWithoutAppContext
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.testing import load_case

RECIPE = GreenletTargetWithoutAppContext()
APP_MESSAGE = "Working outside of application context."
#: Compiled gevent's frame: a relative path the capture hook takes for the project's own.
GEVENT_RUN = Frame(
    "src/gevent/greenlet.py", "gevent._gevent_cgreenlet.Greenlet.run", 912, in_app=True
)
EVENTLET_MAIN = Frame("/site-packages/eventlet/greenthread.py", "main", 272)
WERKZEUG = Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519)


def greenlet_event(
    path: str, function: str, line: int, *, runner: Frame = GEVENT_RUN, message: str = APP_MESSAGE
) -> Event:
    frames = (runner, Frame(path, function, line, in_app=True), WERKZEUG)
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name="MainThread")


FACTORY = code("""
    from flask import Flask


    def create_app():
        app = Flask(__name__)
        from shop import views

        app.register_blueprint(views.bp)
        return app
""")
WORK = LOGGING_TASK
VIEWS = code("""
    import gevent
    from flask import Blueprint

    from shop.work import work

    bp = Blueprint("shop", __name__)


    @bp.get("/")
    def index():
        gevent.spawn(work, 1).join()
        return "ok"
""")


def shop(**files: str) -> Project:
    base = {"shop/__init__.py": FACTORY, "shop/work.py": WORK, "shop/views.py": VIEWS}
    return Project(
        {**base, **{path.replace("__", "/") + ".py": text for path, text in files.items()}}
    )


@pytest.mark.parametrize(
    ("spawn", "expected"),
    [
        pytest.param(
            "gevent.spawn(work, 1)",
            "gevent.spawn(work, current_app._get_current_object(), 1)",
            id="gevent.spawn",
        ),
        pytest.param(
            "gevent.spawn_later(2, work, 1)",
            "gevent.spawn_later(2, work, current_app._get_current_object(), 1)",
            id="spawn_later",
        ),
        pytest.param(
            "gevent.Greenlet.spawn(work)",
            "gevent.Greenlet.spawn(work, current_app._get_current_object())",
            id="Greenlet.spawn",
        ),
        pytest.param(
            "Pool(4).spawn(work, 1)",
            "Pool(4).spawn(work, current_app._get_current_object(), 1)",
            id="gevent pool",
        ),
    ],
)
def test_view_spawn_passes_the_real_app(spawn, expected):
    views = VIEWS.replace("gevent.spawn(work, 1)", spawn).replace(
        "import gevent\n", "import gevent\nfrom gevent.pool import Pool\n"
    )
    project = shop(shop__views=views)
    diagnosis = RECIPE.diagnose(greenlet_event("shop/work.py", "work", 5), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    changed = {c.path: c.after for c in result.changes}
    assert expected in changed["shop/views.py"]
    assert "from flask import Blueprint, current_app\n" in changed["shop/views.py"]
    assert "def work(app, n):\n    with app.app_context():\n" in changed["shop/work.py"]
    again = apply_fix(RECIPE, diagnosis, project.with_changes(changed))
    assert isinstance(again, FixSkip)


def test_eventlet_with_a_module_app_wraps_the_body():
    source = code("""
        import eventlet
        from flask import Flask
        from flask import g

        app = Flask(__name__)


        def work():
            g.seen = True


        eventlet.spawn(work).wait()
    """)
    project = Project({"app.py": source})
    diagnosis = RECIPE.diagnose(greenlet_event("app.py", "work", 9, runner=EVENTLET_MAIN), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    assert "def work():\n    with app.app_context():\n        g.seen" in result.changes[0].after


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {"shop__cli": "from shop.work import work\n\nwork(2)\n"},
            "also called at shop/cli.py:3",
            id="called directly",
        ),
        pytest.param(
            {"shop__views": VIEWS.replace('@bp.get("/")\n', "")},
            "nor an active app context",
            id="spawned outside any context",
        ),
        pytest.param(
            {
                "shop__work": WORK.replace(
                    "import current_app", "import current_app, session"
                ).replace('"%s", n', '"%s", session["user"]')
            },
            "reads session",
            id="reads the session",
        ),
        pytest.param(
            {"shop__views": VIEWS.replace("gevent.spawn(work, 1)", "gevent.spawn(*[work, 1])")},
            "cannot be followed in the code (it is used at shop/views.py:11",
            id="unpacked spawn: diagnosed, the function is only used",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = shop(**files)
    diagnosis = RECIPE.diagnose(greenlet_event("shop/work.py", "work", 5), project)
    if not reason:
        assert diagnosis is None
        return
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            greenlet_event(
                "shop/work.py", "work", 5, message="Working outside of request context."
            ),
            id="request context error",
        ),
        pytest.param(
            greenlet_event(
                "shop/work.py", "work", 5, runner=Frame("/stdlib/threading.py", "run", 982)
            ),
            id="a thread, not a greenlet",
        ),
        pytest.param(greenlet_event("shop/work.py", "other", 5), id="not a top-level function"),
    ],
)
def test_not_diagnosed(event):
    assert RECIPE.diagnose(event, shop()) is None


def test_eventlet_and_gevent_spawns_are_handoffs():
    project = Project(
        {
            "work.py": "def work():\n    pass\n",
            "main.py": code("""
            import eventlet
            from eventlet import greenthread
            from gevent import Greenlet

            from work import work

            pool = eventlet.GreenPool()
            pool.spawn(work)
            greenthread.spawn_after(1, work)
            Greenlet(work).start()
        """),
        }
    )
    assert [h.runner for h in references(project, "work.py", "work")] == ["greenlet"] * 3


# --- detect --------------------------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    assert_detect_finds_the_expected_fix(RECIPE, load_case(case_dir))


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_on_noop_cases_never_leads_to_a_patch(case_dir):
    assert_no_finding_leads_to_a_patch(RECIPE, load_case(case_dir))


# --- the cases, run for real ---------------------------------------------------------------


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0, before.output
    assert "Working outside of application context" in before.output, before.output
    assert after.returncode == 0 and "Traceback" not in after.output, after.output
