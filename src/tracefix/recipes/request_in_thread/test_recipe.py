"""CTX108 request-read-in-thread: reads found and judged, codemods, diagnosis, detection, and the
cases run for real."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._case_checks import SHOP_FACTORY
from tracefix.recipes._case_checks import THREAD_VIEWS
from tracefix.recipes._case_checks import assert_detect_agrees_with_diagnose
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import fixed_once
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.request_in_thread import RequestReadInThread
from tracefix.recipes.request_in_thread import fix
from tracefix.testing import load_case

RECIPE = RequestReadInThread()
REQUEST_MESSAGE = "Working outside of request context."
APP_MESSAGE = "Working outside of application context."
SPELLINGS = {
    "request": "flask.request",
    "session": "flask.session",
    "g": "flask.g",
    "current_user": "flask_login.current_user",
}


def reads_of(body: str) -> list[tuple[str, bool]]:
    module = cst.parse_module("def work(x):\n" + textwrap.indent(code(body), "    "))
    function = module.body[0]
    assert isinstance(function, cst.FunctionDef)
    return [
        (f"{fix.ROOT_WORDS[r.root]}{r.rest}", r.hoistable)
        for r in fix.request_reads(function, SPELLINGS)
    ]


# --- which reads there are, and which can move to the view -----------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            'save(request.args["q"], current_user.id)\n',
            [('request.args["q"]', True), ("user.id", True)],
            id="unconditional reads move",
        ),
        pytest.param(
            'q = request.args.get("q", "")\nsave(q.strip())\n',
            [('request.args.get("q", "")', True)],
            id="read-only method with constant arguments",
        ),
        pytest.param(
            "value = request.args.get(x)\n",
            [("request.args", True)],
            id="a variable key leaves the key to the thread",
        ),
        pytest.param(
            'if x:\n    save(request.form["email"])\n',
            [('request.form["email"]', False)],
            id="a read that may fail on some paths only stays",
        ),
        pytest.param(
            "if x:\n    save(request.remote_addr, session.get('cart'))\n",
            [("request.remote_addr", True), ("session.get('cart')", True)],
            id="reads that cannot fail move from any path",
        ),
        pytest.param(
            'if x:\n    return\nsave(request.args["q"])\n',
            [('request.args["q"]', False)],
            id="after an early return",
        ),
        pytest.param(
            "with app.app_context():\n    save(g.user.id)\n",
            [("g.user.id", True)],
            id="inside the function's own app context",
        ),
        pytest.param(
            'try:\n    save(request.json["a"])\nexcept KeyError:\n    pass\n',
            [('request.json["a"]', False)],
            id="inside try",
        ),
        pytest.param("audit(request)\n", [("request", False)], id="the request itself"),
        pytest.param(
            'request.files["f"].save("/tmp/f")\n', [('request.files["f"]', False)], id="a stream"
        ),
        pytest.param(
            "log(obj.request, request=1)\n", [], id="attribute and keyword names are not reads"
        ),
    ],
)
def test_request_reads(body, expected):
    assert reads_of(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('session["seen"] = True\n', id="item set"),
        pytest.param('session.pop("cart")\n', id="changing method"),
        pytest.param("g.user = None\n", id="attribute set"),
    ],
)
def test_writes_are_found(body):
    module = cst.parse_module("def work():\n" + textwrap.indent(body, "    "))
    function = module.body[0]
    assert isinstance(function, cst.FunctionDef)
    assert any(read.writes for read in fix.request_reads(function, SPELLINGS))


def test_parameter_names():
    reads = [
        fix.Read("flask.request", '.args["q"]', True),
        fix.Read("flask_login.current_user", ".id", True),
        fix.Read("flask.g", ".user.id", True),
        fix.Read("flask.request", '.headers.get("X-Request-Id")', True),
        fix.Read("flask.request", ".get_json()", True),
        fix.Read("flask.request", '.form["q"]', True),
    ]
    names = fix.parameter_names(reads, taken={"x"})
    assert list(names.values()) == [
        "q",
        "user_id",
        "user_id_2",
        "x_request_id",
        "request_json",
        "q_2",
    ]


def test_hoist_reads_replaces_and_drops_unused_imports():
    before = code("""
        import threading

        from flask import current_app, request
        from flask_login import current_user

        from shop import db


        def work(n):
            db.session.add(Row(q=request.args["q"], user=current_user.id, n=n))
    """)
    module = cst.parse_module(before)
    function = module.body[-1]
    assert isinstance(function, cst.FunctionDef)
    reads = fix.request_reads(function, SPELLINGS)
    names = fix.parameter_names(reads, {"n"})
    after = fix.hoist_reads(module, "work", SPELLINGS, names).code
    assert "from flask import current_app\n\nfrom shop import db" in after
    assert "current_user" not in after
    assert "db.session.add(Row(q=q, user=user_id, n=n))" in after


# --- diagnosis and fix on small projects ----------------------------------------------------

FACTORY = SHOP_FACTORY
TASKS = code("""
    from flask import request

    from shop import db


    def work(n):
        db.session.add(Row(q=request.args["q"], n=n))
""")
VIEWS = THREAD_VIEWS


def thread_event(
    line: int = 7,
    *,
    message: str = APP_MESSAGE,
    kind: str = "RuntimeError",
    context_line: str | None = None,
    thread: str = "Thread-1 (work)",
) -> Event:
    frames = (
        Frame("/stdlib/threading.py", "_bootstrap_inner", 1045),
        Frame("/stdlib/threading.py", "run", 982),
        Frame("shop/tasks.py", "work", line, context_line=context_line, in_app=True),
        Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
    )
    return Event((ExceptionInfo(kind, message, frames=frames),), thread_name=thread)


def shop(files: dict[str, str] | None = None) -> Project:
    base = {"shop/__init__.py": FACTORY, "shop/tasks.py": TASKS, "shop/views.py": VIEWS}
    return Project({**base, **(files or {})})


def fixed(project: Project, event: Event | None = None) -> dict[str, str]:
    return fixed_once(RECIPE, event or thread_event(), project)


def test_values_and_the_app_are_passed_from_the_view():
    changed = fixed(shop())
    tasks, views = changed["shop/tasks.py"], changed["shop/views.py"]
    assert "def work(app, q, n):\n    with app.app_context():\n" in tasks
    assert "Row(q=q, n=n)" in tasks
    assert "from flask import request" not in tasks
    assert 'args=(current_app._get_current_object(), request.args["q"], 1)' in views
    assert "from flask import Blueprint, current_app, request\n" in views


def test_a_task_that_needs_no_app_gets_only_the_values():
    tasks = TASKS.replace(
        '    db.session.add(Row(q=request.args["q"], n=n))', "    print(request.path, n)"
    )
    changed = fixed(shop({"shop/tasks.py": tasks}), thread_event(message=REQUEST_MESSAGE))
    assert "def work(path, n):\n    print(path, n)\n" in changed["shop/tasks.py"]
    assert "args=(request.path, 1)" in changed["shop/views.py"]


def test_pool_task_gets_the_values_beside_the_app():
    views = VIEWS.replace(
        "import threading\n", "from concurrent.futures import ThreadPoolExecutor\n"
    )
    views = views.replace(
        'bp = Blueprint("shop", __name__)\n',
        'bp = Blueprint("shop", __name__)\npool = ThreadPoolExecutor()\n',
    )
    views = views.replace(
        "threading.Thread(target=work, args=(1,)).start()", "pool.submit(work, 1)"
    )
    frames = (
        Frame("shop/views.py", "index", 13, in_app=True),
        Frame("/stdlib/concurrent/futures/thread.py", "run", 58),
        Frame("shop/tasks.py", "work", 7, in_app=True),
    )
    event = Event(
        (ExceptionInfo("RuntimeError", APP_MESSAGE, frames=frames),), thread_name="MainThread"
    )
    changed = fixed(shop({"shop/views.py": views}), event)
    assert 'pool.submit(work, app, request.args["q"], 1)' in changed["shop/views.py"]


def test_the_request_itself_is_copied_at_the_start():
    tasks = TASKS.replace('Row(q=request.args["q"], n=n)', "Row(q=describe(request), n=n)")
    changed = fixed(shop({"shop/tasks.py": tasks}))
    assert list(changed) == ["shop/views.py"]
    assert "target=copy_current_request_context(work), args=(1,)" in changed["shop/views.py"]
    assert "from flask import Blueprint, copy_current_request_context\n" in changed["shop/views.py"]


def test_flask_login_none_user_is_diagnosed():
    tasks = TASKS.replace(
        "from flask import request", "from flask_login import current_user"
    ).replace('request.args["q"]', "current_user.id")
    event = thread_event(
        kind="AttributeError",
        message="'NoneType' object has no attribute 'id'",
        context_line="    db.session.add(Row(q=current_user.id, n=n))",
    )
    diagnosis = RECIPE.diagnose(event, shop({"shop/tasks.py": tasks}))
    assert diagnosis is not None
    assert "reads `current_user`" in diagnosis.explanation


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {"shop/views.py": VIEWS.replace('@bp.get("/")\n', "")},
            "where no request is active",
            id="started outside a request",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    '    db.session.add(Row(q=request.args["q"], n=n))', '    session["n"] = n'
                ).replace("import request", "import session")
            },
            "changes `session`",
            id="writes the session",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    'Row(q=request.args["q"], n=n)', "Row(q=describe(request), n=g.user)"
                ).replace("import request", "import g, request")
            },
            "reads `g`",
            id="needs the request and reads g",
        ),
        pytest.param(
            {
                "shop/tasks.py": TASKS.replace(
                    'Row(q=request.args["q"], n=n)', "Row(q=describe(request), n=request.form)"
                )
            },
            "request.form",
            id="needs the request and reads its body",
        ),
        pytest.param(
            {"shop/cli.py": "from shop.tasks import work\n\n\ndef main():\n    work(1)\n"},
            "also called at shop/cli.py:5",
            id="also called directly",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = shop(files)
    diagnosis = RECIPE.diagnose(thread_event(message=REQUEST_MESSAGE), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


@pytest.mark.parametrize(
    ("event", "files"),
    [
        pytest.param(thread_event(thread="MainThread"), {}, id="main thread, no pool"),
        pytest.param(
            thread_event(),
            {"shop/tasks.py": TASKS.replace('request.args["q"]', "helper()")},
            id="the function itself reads no request global",
        ),
        pytest.param(
            thread_event(kind="ValueError", message="bad"), {}, id="not a request failure"
        ),
        pytest.param(
            thread_event(),
            {
                "shop/views.py": VIEWS.replace(
                    "target=work", "target=copy_current_request_context(work)"
                )
            },
            id="already copied at the start",
        ),
    ],
)
def test_not_diagnosed(event, files):
    assert RECIPE.diagnose(event, shop(files)) is None


# --- detection ------------------------------------------------------------------------------


def test_detect_finds_the_first_request_read():
    [finding] = RECIPE.detect("shop/tasks.py", shop())
    assert (finding.location.line, finding.location.column) == (7, 26)
    assert "`request` belongs to the request" in finding.explanation
    assert "shop/views.py:12" in finding.explanation
    assert isinstance(apply_fix(RECIPE, finding, shop()), FixSuccess)


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(
            {"shop/tasks.py": TASKS.replace('request.args["q"]', "n")}, id="reads no request"
        ),
        pytest.param(
            {
                "shop/views.py": VIEWS.replace(
                    "target=work", "target=copy_current_request_context(work)"
                )
            },
            id="copied at the start",
        ),
    ],
)
def test_detect_stays_silent(files):
    assert list(RECIPE.detect("shop/tasks.py", shop(files))) == []


FIX_CASES = fix_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_each_fix_case(case_dir):
    assert_detect_agrees_with_diagnose(RECIPE, load_case(case_dir), "target")


# --- the cases, run for real ----------------------------------------------------------------

FAILURE_SIGNS = ("Exception in thread", "Working outside of", "Traceback")


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert any(sign in before.output for sign in FAILURE_SIGNS), before.output
    assert after.returncode == 0, after.output
    assert not any(sign in after.output for sign in FAILURE_SIGNS), after.output
