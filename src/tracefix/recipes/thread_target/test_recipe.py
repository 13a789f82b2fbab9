"""CTX103 thread-target-without-app-context: codemods, diagnosis, and the cases run for real."""

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
from tracefix.recipes._case_checks import THREAD_VIEWS
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.thread_target import ThreadTargetWithoutAppContext
from tracefix.recipes.thread_target import fix
from tracefix.recipes.thread_target.spawns import references

RECIPE = ThreadTargetWithoutAppContext()
APP_MESSAGE = "Working outside of application context."
GET_APP = "current_app._get_current_object()"


@pytest.mark.parametrize(
    ("before", "line", "kind", "after"),
    [
        pytest.param(
            "threading.Thread(target=work).start()\n",
            1,
            "thread",
            f"threading.Thread(target=work, args=({GET_APP},)).start()\n",
            id="thread without args gets a one-element tuple",
        ),
        pytest.param(
            "Thread(target=work, args=(uid,), daemon=True).start()\n",
            1,
            "thread",
            f"Thread(target=work, args=({GET_APP}, uid), daemon=True).start()\n",
            id="one-element tuple loses its trailing comma",
        ),
        pytest.param(
            "t = Thread(target=work, args=[a, b])\n",
            1,
            "thread",
            f"t = Thread(target=work, args=[{GET_APP}, a, b])\n",
            id="list of args",
        ),
        pytest.param(
            "Thread(target=work, args=())\n",
            1,
            "thread",
            f"Thread(target=work, args=({GET_APP},))\n",
            id="empty tuple",
        ),
        pytest.param(
            "Timer(5, work).start()\n",
            1,
            "timer",
            f"Timer(5, work, args=({GET_APP},)).start()\n",
            id="timer without args",
        ),
        pytest.param(
            "Timer(5, work, [user_id]).start()\n",
            1,
            "timer",
            f"Timer(5, work, [{GET_APP}, user_id]).start()\n",
            id="timer with positional args",
        ),
        pytest.param(
            code("""
                Thread(
                    target=work,
                    args=(
                        a,
                        b,
                    ),
                )
            """),
            1,
            "thread",
            code(f"""
                Thread(
                    target=work,
                    args=(
                        {GET_APP},
                        a,
                        b,
                    ),
                )
            """),
            id="one element per line keeps its layout",
        ),
        pytest.param(
            code("""
                def signup():
                    threading.Thread(target=send_welcome_email, args=(user.id, user.email)).start()
            """),
            2,
            "thread",
            code(f"""
                def signup():
                    threading.Thread(
                        target=send_welcome_email,
                        args=({GET_APP}, user.id, user.email),
                    ).start()
            """),
            id="a line grown too long is broken one argument per line",
        ),
    ],
)
def test_pass_app(before, line, kind, after):
    module = cst.parse_module(before)
    assert fix.pass_app(module, line, kind, GET_APP).code == after


@pytest.mark.parametrize(
    ("before", "reason"),
    [
        pytest.param("Thread(target=work, args=values)\n", "not a tuple", id="args in a variable"),
        pytest.param("Thread(target=work, *rest)\n", "unpacks", id="star arguments"),
        pytest.param(
            "Thread(target=work, kwargs=options)\n", "not written out", id="kwargs in a variable"
        ),
        pytest.param(
            "Thread(target=work, kwargs={'app': a})\n", "already passes app", id="kwargs pass app"
        ),
        pytest.param("x = 1\n", "cannot find", id="no thread at the line"),
    ],
)
def test_pass_app_skips(before, reason):
    with pytest.raises(SkipFix, match=reason):
        fix.pass_app(cst.parse_module(before), 1, "thread", GET_APP)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "def work(x):\n    pass\n", "def work(app, x):\n    pass\n", id="one parameter"
        ),
        pytest.param("def work():\n    pass\n", "def work(app):\n    pass\n", id="no parameter"),
        pytest.param(
            "def work(x, /, y):\n    pass\n",
            "def work(app, x, /, y):\n    pass\n",
            id="positional-only parameters",
        ),
        pytest.param(
            "def work(*args, **kwargs):\n    pass\n",
            "def work(app, *args, **kwargs):\n    pass\n",
            id="only star parameters",
        ),
        pytest.param(
            "def work(\n    x,\n):\n    pass\n",
            "def work(\n    app,\n    x,\n):\n    pass\n",
            id="one parameter per line",
        ),
    ],
)
def test_add_first_parameter(before, after):
    assert fix.add_first_parameter(cst.parse_module(before), "work", "app").code == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            code('''
                def work(user_id):
                    """Send it."""
                    # the user may be gone
                    user = db.session.get(User, user_id)
                    send(user)
            '''),
            code('''
                def work(user_id):
                    """Send it."""
                    with app.app_context():
                        # the user may be gone
                        user = db.session.get(User, user_id)
                        send(user)
            '''),
            id="body after the docstring, comments moved in",
        ),
        pytest.param(
            "def work(): db.session.commit()\n",
            "def work():\n    with app.app_context():\n        db.session.commit()\n",
            id="one-line body",
        ),
    ],
)
def test_wrap_body(before, after):
    assert fix.wrap_body(cst.parse_module(before), "work", "app").code == after


def test_wrap_body_of_a_docstring_only_function_skips():
    with pytest.raises(SkipFix, match="nothing but a docstring"):
        fix.wrap_body(cst.parse_module('def work():\n    """Nothing."""\n'), "work", "app")


# --- diagnosis and fix on small projects --------------------------------------------------

FACTORY = SHOP_FACTORY
TASKS = LOGGING_TASK
VIEWS = THREAD_VIEWS


def thread_event(
    path: str = "shop/tasks.py",
    function: str = "work",
    line: int = 5,
    *,
    thread: str = "Thread-1 (work)",
    message: str = APP_MESSAGE,
) -> Event:
    frames = (
        Frame("/stdlib/threading.py", "_bootstrap_inner", 1045),
        Frame("/stdlib/threading.py", "run", 982, abs_path="/stdlib/threading.py"),
        Frame(path, function, line, in_app=True),
        Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
    )
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name=thread)


def shop(files: dict[str, str] | None = None) -> Project:
    base = {"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, "shop/views.py": VIEWS}
    return Project({**base, **(files or {})})


def test_view_thread_passes_the_real_app():
    project = shop()
    diagnosis = RECIPE.diagnose(thread_event(), project)
    assert diagnosis is not None
    assert "shop/tasks.py:4" in diagnosis.explanation
    assert "shop/views.py:12" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    changed = {c.path: c.after for c in result.changes}
    assert "def work(app, n):\n    with app.app_context():\n" in changed["shop/tasks.py"]
    assert f"args=({GET_APP}, 1)" in changed["shop/views.py"]
    assert "from flask import Blueprint, current_app\n" in changed["shop/views.py"]
    again = apply_fix(RECIPE, diagnosis, project.with_changes(changed))
    assert isinstance(again, FixSkip)


def test_current_app_is_imported_in_the_third_party_section():
    """A service that starts the thread and imports only the project's ``db``: Flask's import
    goes in a section of its own above the project's, where isort (and the project's linter)
    wants it, not after ``from app.extensions import db``."""
    services = code("""
        import threading

        from shop.extensions import db


        def _sync():
            db.session.execute(db.text("select 1"))


        def start_sync():
            threading.Thread(target=_sync).start()
    """)
    project = shop(
        {
            "shop/extensions.py": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n",
            "shop/services.py": services,
            "shop/views.py": VIEWS.replace(
                "from shop.tasks import work", "from shop.services import start_sync"
            ).replace("threading.Thread(target=work, args=(1,)).start()", "start_sync()"),
        }
    )
    [finding] = RECIPE.detect("shop/services.py", project)
    result = apply_fix(RECIPE, finding, project)
    assert isinstance(result, FixSuccess), result
    [change] = [c for c in result.changes if c.path == "shop/services.py"]
    assert change.after.startswith(
        "import threading\n\nfrom flask import current_app\n\nfrom shop.extensions import db\n"
    )


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        pytest.param(
            VIEWS.replace(
                "from flask import Blueprint", "import flask\nfrom flask import Blueprint"
            ),
            "flask.current_app._get_current_object()",
            id="current_app through import flask",
        ),
        pytest.param(
            VIEWS.replace(
                "from flask import Blueprint",
                "from flask import Blueprint\nfrom flask import current_app as ca",
            ),
            "ca._get_current_object()",
            id="current_app under an alias",
        ),
        pytest.param(
            VIEWS.replace("from shop.tasks import work\n", "").replace(
                "    threading", "    from shop.tasks import work\n\n    threading"
            ),
            GET_APP,
            id="target imported inside the view",
        ),
        pytest.param(
            VIEWS.replace("from shop.tasks import work", "from shop import tasks").replace(
                "target=work", "target=tasks.work"
            ),
            GET_APP,
            id="target as module attribute",
        ),
        pytest.param(
            VIEWS.replace(
                '@bp.get("/")\ndef index():\n    threading.Thread(target=work, args=(1,)).start()',
                "def later():\n    threading.Thread(target=work, args=(1,)).start()\n\n\n"
                '@bp.get("/")\ndef index():\n    later()',
            ),
            GET_APP,
            id="started by a helper only views call",
        ),
        pytest.param(
            VIEWS.replace(
                '@bp.get("/")\ndef index():\n    threading.Thread(target=work, args=(1,)).start()',
                "def later():\n    threading.Thread(target=work, args=(1,)).start()\n\n\n"
                "def notify():\n    later()\n\n\n"
                '@bp.get("/")\ndef index():\n    notify()',
            ),
            GET_APP,
            id="started by a helper of a helper only views call (microblog's send_email)",
        ),
        pytest.param(
            VIEWS.replace(
                "from flask import Blueprint",
                "from flask import Blueprint\nfrom flask.views import MethodView",
            ).replace(
                '@bp.get("/")\ndef index():\n'
                '    threading.Thread(target=work, args=(1,)).start()\n    return "ok"',
                "class Base(MethodView):\n    pass\n\n\nclass Index(Base):\n    def get(self):\n"
                "        threading.Thread(target=work, args=(1,)).start()\n"
                '        return "ok"\n\n\n'
                'bp.add_url_rule("/", view_func=Index.as_view("index"))',
            ),
            GET_APP,
            id="started in a class-based view's get (FlaskBB's ViewTopic)",
        ),
        pytest.param(
            VIEWS.replace(
                "from flask import Blueprint",
                "from flask import Blueprint\nfrom flask_restx import Resource",
            ).replace(
                '@bp.get("/")\ndef index():\n'
                '    threading.Thread(target=work, args=(1,)).start()\n    return "ok"',
                "class Base(Resource):\n    pass\n\n\nclass Index(Base):\n    def post(self):\n"
                "        threading.Thread(target=work, args=(1,)).start()\n"
                '        return "ok"\n\n\n'
                'bp.add_url_rule("/", view_func=Index.as_view("index"))',
            ),
            GET_APP,
            id="started in a Flask-RESTX resource's post (CTFd's API)",
        ),
    ],
)
def test_view_thread_variants(views, expected):
    project = shop({"shop/views.py": views})
    diagnosis = RECIPE.diagnose(thread_event(), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    assert expected in {c.path: c.after for c in result.changes}["shop/views.py"]


def test_module_app_in_scope_is_pushed_without_changing_the_signature():
    web = "from flask import Flask\n\napp = Flask(__name__)\n"
    tasks = "from shop.web import app\n" + TASKS
    project = shop({"shop/__init__.py": "", "shop/web.py": web, "shop/tasks.py": tasks})
    diagnosis = RECIPE.diagnose(thread_event(line=6), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.path == "shop/tasks.py"
    assert "def work(n):\n    with app.app_context():\n" in change.after


def test_factory_made_module_app_gives_way_to_the_running_app():
    wsgi = "from shop import create_app\n\napp = create_app()\n"
    tasks = "from shop.wsgi import app\n" + TASKS
    project = shop({"shop/tasks.py": tasks, "shop/wsgi.py": wsgi})
    diagnosis = RECIPE.diagnose(thread_event(line=6), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    assert f"args=({GET_APP}, 1)" in {c.path: c.after for c in result.changes}["shop/views.py"]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {"shop/cli.py": "from shop.tasks import work\n\n\ndef main():\n    work(1)\n"},
            "also called at shop/cli.py:5",
            id="target also called directly",
        ),
        pytest.param(
            {"shop/jobs.py": "from shop.tasks import work\n\nJOBS = [work]\n"},
            "also used at shop/jobs.py:3",
            id="target also handed elsewhere",
        ),
        pytest.param(
            {"shop/tasks.py": TASKS.replace("def work(n):", "def work(n, app=None):")},
            "already uses the name 'app'",
            id="target has an app parameter",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    "current_app.logger", "request.args or current_app.logger"
                ).replace("import current_app", "import current_app, request")
            },
            "reads request",
            id="target reads the request",
        ),
        pytest.param(
            {
                "shop/tasks.py": "import functools\n"
                + TASKS.replace("def work", "@functools.cache\ndef work")
            },
            "decorated",
            id="decorated target",
        ),
        pytest.param(
            {"shop/views.py": VIEWS.replace('@bp.get("/")\n', "")},
            "cannot tell that an app context is active",
            id="started outside any app context",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = shop(files)
    diagnosis = RECIPE.diagnose(thread_event(line=_line_of_work(project) + 1), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


def _line_of_work(project: Project) -> int:
    source = project.source("shop/tasks.py") or ""
    return next(i for i, text in enumerate(source.splitlines(), 1) if text.startswith("def work"))


@pytest.mark.parametrize(
    ("event", "views"),
    [
        pytest.param(thread_event(thread="MainThread"), VIEWS, id="main thread"),
        pytest.param(
            thread_event(message="Working outside of request context."),
            VIEWS,
            id="request context error",
        ),
        pytest.param(thread_event(function="other"), VIEWS, id="frame is not a top-level function"),
        pytest.param(
            thread_event(),
            VIEWS.replace("target=work", "target=lambda: work(1)"),
            id="lambda target",
        ),
        pytest.param(
            thread_event(),
            VIEWS.replace("target=work", "target=self.work"),
            id="bound method target",
        ),
        pytest.param(
            thread_event(),
            VIEWS.replace("def index():", "def index(work=None):"),
            id="target name shadowed by a parameter",
        ),
    ],
)
def test_not_diagnosed(event, views):
    assert RECIPE.diagnose(event, shop({"shop/views.py": views})) is None


def test_target_that_already_pushes_is_not_diagnosed():
    tasks = TASKS.replace(
        '    current_app.logger.info("%s", n)',
        '    with current_app.app_context():\n        current_app.logger.info("%s", n)',
    )
    assert RECIPE.diagnose(thread_event(line=6), shop({"shop/tasks.py": tasks})) is None


def test_references_follow_reexports_and_relative_imports():
    project = shop(
        {
            "shop/jobs/__init__.py": "from ..tasks import work\n",
            "shop/jobs/runner.py": (
                "from threading import Timer as T\nfrom . import work as w\n\n\n"
                "def go():\n    T(1.0, w).start()\n    w(2)\n"
            ),
            "shop/cli.py": "import shop.jobs\n\n\ndef main(work=None):\n    shop.jobs.work(1)\n"
            "    work()\n",
        }
    )
    found = references(project, "shop/tasks.py", "work")
    assert {(r.path, r.line, r.role, r.function) for r in found} == {
        ("shop/views.py", 12, "thread", "index"),
        ("shop/jobs/runner.py", 6, "timer", "go"),
        ("shop/jobs/runner.py", 7, "call", "go"),
        ("shop/cli.py", 5, "call", "main"),
    }


# --- the cases, run for real --------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
FAILURE_SIGNS = ("Exception in thread", "Working outside of", "Traceback")


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    """A thread's exception leaves the exit code at 0: the output tells the failure."""
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode == 0, before.output
    assert any(sign in before.output for sign in FAILURE_SIGNS), before.output
    assert after.returncode == 0, after.output
    assert not any(sign in after.output for sign in FAILURE_SIGNS), after.output


# --- a lambda, a partial or a bound method handed to the thread ---------------------------------

WORKER = (
    TASKS
    + "\n\n"
    + code("""
    class Worker:
        def __init__(self, n):
            self.n = n

        def run(self):
            work(self.n)
""")
)


def handed_event(frames: list[tuple[str, str, int]]) -> Event:
    """A thread whose ``run`` called the first of ``frames`` (path, function, line)."""
    return Event(
        (
            ExceptionInfo(
                "RuntimeError",
                APP_MESSAGE,
                frames=(
                    Frame("/stdlib/threading.py", "_bootstrap_inner", 1045),
                    Frame("/stdlib/threading.py", "run", 982, abs_path="/stdlib/threading.py"),
                    *(Frame(path, name, line, in_app=True) for path, name, line in frames),
                    Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
                ),
            ),
        ),
        thread_name="Thread-1",
    )


LAMBDA = handed_event([("shop/views.py", "<lambda>", 12), ("shop/tasks.py", "work", 5)])


@pytest.mark.parametrize(
    ("views", "event", "form", "handed"),
    [
        pytest.param(
            VIEWS.replace("target=work, args=(1,)", "target=lambda: work(1)"),
            LAMBDA,
            "a lambda",
            "lambda: work(1)",
            id="lambda",
        ),
        pytest.param(
            VIEWS.replace("import threading", "import functools\nimport threading")
            .replace("target=work, args=(1,)", "target=functools.partial(work, 1)")
            .replace("@bp.get", "\n@bp.get"),
            handed_event([("shop/tasks.py", "work", 5)]),
            "a functools.partial",
            "functools.partial(work, 1)",
            id="partial",
        ),
        pytest.param(
            VIEWS.replace("import work", "import Worker").replace(
                "target=work, args=(1,)", "target=Worker(1).run"
            ),
            handed_event([("shop/tasks.py", "run", 13), ("shop/tasks.py", "work", 5)]),
            "a bound method",
            "Worker(1).run",
            id="bound method",
        ),
    ],
)
def test_a_handed_expression_started_in_a_view_is_wrapped_at_the_start(views, event, form, handed):
    project = shop({"shop/views.py": views, "shop/tasks.py": WORKER})
    diagnosis = RECIPE.diagnose(event, project)
    assert diagnosis is not None
    assert diagnosis.facts["handed"]["form"] == form
    assert (
        "started in index(), which runs only while Flask handles a request" in diagnosis.explanation
    )
    assert "shop/tasks.py:5" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.path == "shop/views.py"
    assert f"target=copy_current_request_context({handed})" in change.after
    assert "from flask import Blueprint, copy_current_request_context\n" in change.after
    assert RECIPE.diagnose(event, project.with_changes({"shop/views.py": change.after})) is None


def test_a_handed_expression_started_in_a_helper_only_views_call_is_wrapped_there():
    """CTFd's ``sendmail()``: the thread starts in a helper its views call."""
    views = VIEWS.replace("import work", "import Worker").replace(
        '@bp.get("/")\ndef index():\n    threading.Thread(target=work, args=(1,)).start()',
        "def notify():\n    threading.Thread(target=Worker(1).run).start()\n\n\n"
        '@bp.get("/")\ndef index():\n    notify()',
    )
    project = shop({"shop/views.py": views, "shop/tasks.py": WORKER})
    event = handed_event([("shop/tasks.py", "run", 13), ("shop/tasks.py", "work", 5)])
    diagnosis = RECIPE.diagnose(event, project)
    assert diagnosis is not None
    assert "started in notify(), which runs only while Flask handles" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert "    threading.Thread(target=copy_current_request_context(Worker(1).run))" in (
        change.after
    )


@pytest.mark.parametrize(
    "views",
    [
        pytest.param(
            VIEWS.replace("target=work, args=(1,)", "target=lambda: work(1)").replace(
                '@bp.get("/")', "@bp.cli.command()"
            ),
            id="started in a CLI command: no request to copy",
        ),
        pytest.param(
            VIEWS.replace("target=work, args=(1,)", "target=lambda: work(1)").replace(
                '@bp.get("/")\n', ""
            ),
            id="started in a plain function",
        ),
    ],
)
def test_a_handed_lambda_started_outside_a_request_is_not_diagnosed(views):
    assert RECIPE.diagnose(LAMBDA, shop({"shop/views.py": views})) is None


def test_a_partial_handed_over_at_two_starts_is_not_diagnosed():
    views = (
        VIEWS.replace("import threading", "import functools\nimport threading")
        .replace("target=work, args=(1,)", "target=functools.partial(work, 1)")
        .replace(
            '    return "ok"',
            '    threading.Thread(target=functools.partial(work, 2))\n    return "ok"',
        )
    )
    event = handed_event([("shop/tasks.py", "work", 5)])
    assert RECIPE.diagnose(event, shop({"shop/views.py": views})) is None


@pytest.mark.parametrize(
    ("views", "found"),
    [
        pytest.param(
            VIEWS.replace("target=work, args=(1,)", "target=lambda: work(1)"), True, id="lambda"
        ),
        pytest.param(
            VIEWS.replace(
                "import threading", "from functools import partial\nimport threading"
            ).replace("target=work, args=(1,)", "target=partial(work, 1)"),
            True,
            id="partial",
        ),
        pytest.param(
            VIEWS.replace("target=work, args=(1,)", "target=lambda: work(1)").replace(
                '@bp.get("/")', "@bp.cli.command()"
            ),
            False,
            id="lambda in a CLI command",
        ),
        pytest.param(
            VIEWS.replace(
                "target=work, args=(1,)", "target=copy_current_request_context(work)"
            ).replace("import Blueprint", "import Blueprint, copy_current_request_context"),
            False,
            id="already wrapped",
        ),
    ],
)
def test_scan_finds_a_handed_lambda_or_partial_started_in_a_view(views, found):
    project = shop({"shop/views.py": views})
    findings = [
        (d.location.path, d.location.line, d.location.column)
        for path in project.python_files()
        for d in RECIPE.detect(path, project)
    ]
    if found:
        line = next(n for n, text in enumerate(views.splitlines(), 1) if "target=" in text)
        column = views.splitlines()[line - 1].index("target=") + len("target=") + 1
        assert findings == [("shop/views.py", line, column)]
    else:
        assert findings == []


# --- a target the starts already hand the app to ------------------------------------------------

APP_TASKS = TASKS.replace("def work(n):", "def work(app, n):")


@pytest.mark.parametrize(
    "views",
    [
        pytest.param(
            VIEWS.replace("args=(1,)", f"args=({GET_APP}, 1)").replace(
                "import Blueprint", "import Blueprint, current_app"
            ),
            id="current_app._get_current_object() in the args",
        ),
        pytest.param(
            VIEWS.replace("args=(1,)", "args=[real, 1]")
            .replace("import Blueprint", "import Blueprint, current_app")
            .replace("def index():\n", f"def index():\n    real = {GET_APP}\n"),
            id="a local set to it",
        ),
    ],
)
def test_a_target_handed_the_app_pushes_that_apps_context(views):
    project = shop({"shop/tasks.py": APP_TASKS, "shop/views.py": views})
    diagnosis = RECIPE.diagnose(thread_event(), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.path == "shop/tasks.py"
    assert "def work(app, n):\n    with app.app_context():\n        current_app" in change.after


@pytest.mark.parametrize(
    "views",
    [
        pytest.param(VIEWS.replace("args=(1,)", "args=(settings, 1)"), id="something else"),
        pytest.param(
            VIEWS.replace("args=(1,)", f"args=({GET_APP}, 1)")
            .replace("import Blueprint", "import Blueprint, current_app")
            .replace(
                '    return "ok"',
                '    threading.Thread(target=work, args=(None, 2))\n    return "ok"',
            ),
            id="one start of two",
        ),
        pytest.param(
            VIEWS.replace("args=(1,)", f"args=({GET_APP}, 1), kwargs=options").replace(
                "import Blueprint", "import Blueprint, current_app"
            ),
            id="kwargs may pass it too",
        ),
    ],
)
def test_a_target_whose_app_parameter_is_not_always_the_app_is_not_wrapped(views):
    project = shop({"shop/tasks.py": APP_TASKS, "shop/views.py": views})
    diagnosis = RECIPE.diagnose(thread_event(), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
