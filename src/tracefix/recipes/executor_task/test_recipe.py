"""CTX106 executor-task-without-app-context: pools found, codemods, diagnosis, detection, and the
cases run for real."""

from __future__ import annotations

import libcst as cst
import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import LOGGING_TASK
from tracefix.recipes._case_checks import SHOP_FACTORY
from tracefix.recipes._case_checks import assert_detect_agrees_with_diagnose
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import fixed_once
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.executor_task import ExecutorTaskWithoutAppContext
from tracefix.recipes.executor_task import fix
from tracefix.recipes.thread_target.spawns import references
from tracefix.testing import load_case

RECIPE = ExecutorTaskWithoutAppContext()
APP_MESSAGE = "Working outside of application context."


# --- which calls hand a task to a thread pool -----------------------------------------------

POOLS = code("""
    import concurrent.futures
    from concurrent import futures
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import ThreadPoolExecutor as Pool

    from shop.extensions import executor
    from shop.tasks import work


    def run(pool):
        executor.submit(work, 1)
        with Pool() as local:
            local.map(work, [1])
        made = futures.ThreadPoolExecutor()
        made.submit(work)
        concurrent.futures.ThreadPoolExecutor().submit(work)
        with ProcessPoolExecutor() as processes:
            processes.submit(work, 1)
        primed = Pool(initializer=print)
        primed.submit(work)
        rebound = Pool()
        rebound = None
        rebound.submit(work)
        pool.submit(work)
        work(2)
""")


def pool_project(views: str = POOLS) -> Project:
    return Project(
        {
            "shop/__init__.py": "",
            "shop/extensions.py": code("""
                from concurrent.futures import ThreadPoolExecutor

                executor = ThreadPoolExecutor(4)
            """),
            "shop/tasks.py": "def work(n):\n    pass\n",
            "shop/views.py": views,
        }
    )


def test_references_tell_pool_tasks_from_other_uses():
    found = references(pool_project(), "shop/tasks.py", "work")
    assert [(r.line, r.role) for r in found] == [
        (11, "submit"),
        (13, "map"),
        (15, "submit"),
        (16, "submit"),
        (18, "other"),
        (20, "other"),
        (23, "other"),
        (24, "other"),
        (25, "call"),
    ]


# --- codemods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "role", "after"),
    [
        pytest.param(
            "pool.submit(work, a)\n", "submit", "pool.submit(work, APP, a)\n", id="submit"
        ),
        pytest.param("pool.submit(work)\n", "submit", "pool.submit(work, APP)\n", id="no args"),
        pytest.param(
            "pool.submit(work, *rest, key=1)\n",
            "submit",
            "pool.submit(work, APP, *rest, key=1)\n",
            id="star args and keywords stay after",
        ),
        pytest.param(
            "pool.map(work, items)\n",
            "map",
            "pool.map(functools.partial(work, APP), items)\n",
            id="map through partial",
        ),
        pytest.param(
            "results = {k: pool.submit(work, k) for k in keys}\n",
            "submit",
            "results = {k: pool.submit(work, APP, k) for k in keys}\n",
            id="in a comprehension",
        ),
        pytest.param(
            "future = pool.submit(send_the_monthly_statement_now, account.id, account.mail_to, y)"
            "\n",
            "submit",
            code("""
                future = pool.submit(
                    send_the_monthly_statement_now,
                    APP,
                    account.id,
                    account.mail_to,
                    y,
                )
            """),
            id="a whole statement grown too long is broken one argument per line",
        ),
        pytest.param(
            "total = sum(pool.map(weigh_every_parcel_of_the_shipment, shipment.parcels, chunks))\n",
            "map",
            "total = sum(pool.map(functools.partial(weigh_every_parcel_of_the_shipment, APP), "
            "shipment.parcels, chunks))\n",
            id="inside a longer expression the line is left to the formatter",
        ),
    ],
)
def test_pass_arguments(before, role, after):
    module = cst.parse_module(before)
    changed = fix.pass_arguments(module, 1, role, ["APP"], partial="functools.partial")
    assert changed.code == after


@pytest.mark.parametrize(
    ("before", "reason"),
    [
        pytest.param("pool.submit(*calls)\n", "cannot tell which function", id="star first"),
        pytest.param("pool.submit(work, **options)\n", "unpacks keyword", id="star-star"),
        pytest.param("x = 1\n", "cannot find", id="no pool call at the line"),
    ],
)
def test_pass_arguments_skips(before, reason):
    with pytest.raises(SkipFix, match=reason):
        fix.pass_arguments(cst.parse_module(before), 1, "submit", ["APP"], partial="partial")


# --- diagnosis and fix on small projects ----------------------------------------------------

FACTORY = SHOP_FACTORY
TASKS = LOGGING_TASK
VIEWS = code("""
    from concurrent.futures import ThreadPoolExecutor

    from flask import Blueprint

    from shop.tasks import work

    bp = Blueprint("shop", __name__)
    pool = ThreadPoolExecutor(2)


    @bp.get("/")
    def index():
        pool.submit(work, 1).result()
        return "ok"
""")


def pool_event(
    path: str = "shop/tasks.py",
    function: str = "work",
    line: int = 5,
    *,
    message: str = APP_MESSAGE,
    worker: str = "/stdlib/concurrent/futures/thread.py",
) -> Event:
    frames = (
        Frame("shop/views.py", "index", 13, in_app=True),
        Frame("/stdlib/concurrent/futures/_base.py", "result", 449),
        Frame("/stdlib/concurrent/futures/_base.py", "__get_result", 401),
        Frame(worker, "run", 58),
        Frame(path, function, line, in_app=True),
        Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
    )
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name="MainThread")


def shop(files: dict[str, str] | None = None) -> Project:
    base = {"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, "shop/views.py": VIEWS}
    return Project({**base, **(files or {})})


def changed_files(project: Project, event: Event | None = None) -> dict[str, str]:
    return fixed_once(RECIPE, event or pool_event(), project)


def test_view_task_gets_the_running_app_through_a_local():
    project = shop()
    diagnosis = RECIPE.diagnose(pool_event(), project)
    assert diagnosis is not None
    assert "shop/views.py:13" in diagnosis.explanation
    assert "surfaced at shop/views.py:13" in diagnosis.explanation
    changed = changed_files(project)
    assert "def work(app, n):\n    with app.app_context():\n" in changed["shop/tasks.py"]
    assert (
        "    app = current_app._get_current_object()\n    pool.submit(work, app, 1).result()\n"
        in changed["shop/views.py"]
    )
    assert "from flask import Blueprint, current_app\n" in changed["shop/views.py"]


def test_the_local_takes_another_name_when_app_is_taken():
    views = VIEWS.replace("def index():\n", "def index():\n    app = 'shop'\n")
    changed = changed_files(shop({"shop/views.py": views}))
    assert "flask_app = current_app._get_current_object()" in changed["shop/views.py"]
    assert "pool.submit(work, flask_app, 1)" in changed["shop/views.py"]


def test_map_in_a_with_block_gets_the_app_through_partial():
    views = VIEWS.replace(
        "    pool.submit(work, 1).result()\n",
        "    with ThreadPoolExecutor() as local:\n        list(local.map(work, [1, 2]))\n",
    )
    changed = changed_files(shop({"shop/views.py": views}))
    assert "import functools\nfrom concurrent.futures" in changed["shop/views.py"]
    assert "local.map(functools.partial(work, app), [1, 2])" in changed["shop/views.py"]


def test_pool_imported_from_another_module():
    views = VIEWS.replace("pool = ThreadPoolExecutor(2)\n", "").replace(
        "from shop.tasks import work\n",
        "from shop.extensions import pool\nfrom shop.tasks import work\n",
    )
    extensions = (
        "from concurrent.futures import ThreadPoolExecutor\n\npool = ThreadPoolExecutor()\n"
    )
    changed = changed_files(shop({"shop/views.py": views, "shop/extensions.py": extensions}))
    assert "pool.submit(work, app, 1)" in changed["shop/views.py"]


def test_module_app_in_scope_is_pushed_without_changing_the_signature():
    web = "from flask import Flask\n\napp = Flask(__name__)\n"
    tasks = "from shop.web import app\n" + TASKS
    project = shop({"shop/__init__.py": "", "shop/web.py": web, "shop/tasks.py": tasks})
    changed = changed_files(project, pool_event(line=6))
    assert list(changed) == ["shop/tasks.py"]
    assert "def work(n):\n    with app.app_context():\n" in changed["shop/tasks.py"]


def test_task_also_called_directly_runs_through_a_helper():
    cli = "from shop.tasks import work\n\n\ndef main():\n    work(1)\n"
    views = VIEWS.replace(
        "        pool.submit(work, 1).result()\n",
        "        pool.submit(work, 1).result()\n        list(pool.map(work, [2]))\n",
    ).replace(
        "    pool.submit(work, 1).result()\n",
        "    pool.submit(work, 1).result()\n    list(pool.map(work, [2]))\n",
    )
    changed = changed_files(shop({"shop/cli.py": cli, "shop/views.py": views}))
    assert list(changed) == ["shop/views.py"]
    views = changed["shop/views.py"]
    assert "def in_app_context(app, task, /, *args, **kwargs):\n" in views
    assert "    with app.app_context():\n        return task(*args, **kwargs)\n" in views
    assert "pool.submit(in_app_context, app, work, 1).result()" in views
    assert "pool.map(functools.partial(in_app_context, app, work), [2])" in views
    assert views.index("def in_app_context") < views.index('@bp.get("/")')


def _line_of_work(project: Project) -> int:
    source = project.source("shop/tasks.py") or ""
    return next(i for i, text in enumerate(source.splitlines(), 1) if text.startswith("def work"))


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {
                "shop/cli.py": "from shop.tasks import work\n\n\ndef main():\n    work(1)\n",
                "shop/views.py": VIEWS.replace('@bp.get("/")\n', ""),
            },
            "where tracefix cannot tell that an app context is active",
            id="task also called directly, submitted outside an app context",
        ),
        pytest.param(
            {
                "shop/cli.py": "import threading\n\nfrom shop.tasks import work\n\n\n"
                "def main():\n    work(1)\n    threading.Thread(target=work).start()\n"
            },
            "started as a thread at shop/cli.py:8",
            id="task also called directly and started as a thread",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    "current_app.logger", "request.args or current_app.logger"
                ).replace("import current_app", "import current_app, request")
            },
            "reads request",
            id="task reads the request",
        ),
        pytest.param(
            {"shop/views.py": VIEWS.replace('@bp.get("/")\n', "")},
            "cannot tell that an app context is active",
            id="submitted outside any app context",
        ),
        pytest.param(
            {"shop/tasks.py": TASKS.replace("def work(n):", "def work(n, app=None):")},
            "already uses the name 'app'",
            id="task has an app parameter",
        ),
        pytest.param(
            {
                "shop/tasks.py": "import functools\n"
                + TASKS.replace("def work", "@functools.cache\ndef work")
            },
            "decorated",
            id="decorated task",
        ),
        pytest.param(
            {"shop/views.py": VIEWS.replace("pool.submit(work, 1)", "pool.submit(work, **opts)")},
            "not written out",
            id="keyword arguments unpacked",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = shop(files)
    diagnosis = RECIPE.diagnose(pool_event(line=_line_of_work(project) + 1), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


@pytest.mark.parametrize(
    ("event", "views"),
    [
        pytest.param(
            pool_event(message="Working outside of request context."),
            VIEWS,
            id="request context error",
        ),
        pytest.param(
            pool_event(worker="/stdlib/concurrent/futures/process.py"),
            VIEWS,
            id="not a thread pool's worker",
        ),
        pytest.param(pool_event(function="other"), VIEWS, id="frame is not a top-level function"),
        pytest.param(
            pool_event(),
            VIEWS.replace("pool.submit(work, 1)", "pool.submit(lambda: work(1))"),
            id="lambda task",
        ),
        pytest.param(
            pool_event(),
            VIEWS.replace("pool = ThreadPoolExecutor(2)", "pool = ProcessPoolExecutor(2)").replace(
                "import ThreadPoolExecutor", "import ProcessPoolExecutor"
            ),
            id="process pool",
        ),
        pytest.param(
            pool_event(),
            VIEWS.replace(
                "pool.submit(work, 1)", "pool.submit(copy_current_request_context(work))"
            ),
            id="task wrapped at the submission",
        ),
    ],
)
def test_not_diagnosed(event, views):
    assert RECIPE.diagnose(event, shop({"shop/views.py": views})) is None


def test_task_that_already_pushes_is_not_diagnosed():
    tasks = TASKS.replace(
        '    current_app.logger.info("%s", n)',
        '    with current_app.app_context():\n        current_app.logger.info("%s", n)',
    )
    assert RECIPE.diagnose(pool_event(line=6), shop({"shop/tasks.py": tasks})) is None


# --- detection ------------------------------------------------------------------------------


def test_detect_finds_a_task_whose_result_nobody_reads():
    views = VIEWS.replace("pool.submit(work, 1).result()", "pool.submit(work, 1)")
    project = shop({"shop/views.py": views})
    [finding] = RECIPE.detect("shop/tasks.py", project)
    assert (finding.location.path, finding.location.line, finding.location.column) == (
        "shop/tasks.py",
        5,
        5,
    )
    assert "`current_app` needs an app context" in finding.explanation
    assert "shop/views.py:13" in finding.explanation
    assert finding.facts["target"] == {"path": "shop/tasks.py", "function": "work", "line": 4}
    assert list(RECIPE.detect("shop/views.py", project)) == []
    result = apply_fix(RECIPE, finding, project)
    assert isinstance(result, FixSuccess), result


def test_detect_follows_project_calls_and_the_database():
    tasks = code("""
        from shop import db


        def load(n):
            return db.session.get(object, n)


        def work(n):
            return load(n)
    """)
    [finding] = RECIPE.detect("shop/tasks.py", shop({"shop/tasks.py": tasks}))
    assert finding.location.line == 9
    assert "reaches `db.session`" in finding.explanation


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(
            {"shop/tasks.py": "def work(n):\n    return n * 2\n"}, id="task needs no context"
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    '    current_app.logger.info("%s", n)',
                    "    with current_app.app_context():\n        current_app.logger.info(n)",
                )
            },
            id="task pushes its own",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace("current_app.logger", "request.args or g").replace(
                    "import current_app", "import g, request"
                )
            },
            id="task reads the request (CTX108)",
        ),
        pytest.param(
            {"shop/views.py": VIEWS.replace("ThreadPoolExecutor", "ProcessPoolExecutor")},
            id="process pool",
        ),
        pytest.param(
            {
                "shop/views.py": VIEWS.replace(
                    "ThreadPoolExecutor(2)", "ThreadPoolExecutor(2, initializer=push)"
                )
            },
            id="pool with an initializer",
        ),
    ],
)
def test_detect_stays_silent(files):
    assert list(RECIPE.detect("shop/tasks.py", shop(files))) == []


FIX_CASES = fix_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_each_fix_case(case_dir):
    diagnosis, findings = assert_detect_agrees_with_diagnose(RECIPE, load_case(case_dir), "target")
    assert findings[0].location.line == diagnosis.location.line


# --- the cases, run for real ----------------------------------------------------------------

FAILURE = "Working outside of application context"


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0 and FAILURE in before.output, before.output
    assert after.returncode == 0 and "Traceback" not in after.output, after.output


def test_a_lambda_submitted_in_a_view_is_wrapped_where_it_is_submitted():
    views = VIEWS.replace("pool.submit(work, 1)", "pool.submit(lambda: work(1))")
    frames = list(pool_event().frames)
    frames.insert(4, Frame("shop/views.py", "<lambda>", 13, in_app=True))
    event = Event((ExceptionInfo("RuntimeError", APP_MESSAGE, frames=tuple(frames)),))
    project = shop({"shop/views.py": views})
    diagnosis = RECIPE.diagnose(event, project)
    assert diagnosis is not None
    assert diagnosis.facts["handed"]["form"] == "a lambda"
    assert (
        "submitted in index(), which runs only while Flask handles a request"
        in diagnosis.explanation
    )
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert "pool.submit(copy_current_request_context(lambda: work(1))).result()" in change.after
    assert "from flask import Blueprint, copy_current_request_context\n" in change.after
