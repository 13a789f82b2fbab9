"""CTX109 streamed-response-without-context: bodies found, codemod, diagnosis, detection, and the
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
from tracefix.recipes._case_checks import assert_detect_agrees_with_diagnose
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import fixed_once
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.streamed_response import StreamedResponseWithoutContext
from tracefix.recipes.streamed_response import fix
from tracefix.testing import load_case

RECIPE = StreamedResponseWithoutContext()
REQUEST_MESSAGE = "Working outside of request context."


# --- the codemod ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "column", "after"),
    [
        pytest.param(
            "return Response(gen(), mimetype='text/csv')\n",
            16,
            "return Response(swc(gen()), mimetype='text/csv')\n",
            id="first argument",
        ),
        pytest.param(
            "return gen(a), {'Content-Type': 'text/plain'}\n",
            7,
            "return swc(gen(a)), {'Content-Type': 'text/plain'}\n",
            id="returned in a tuple",
        ),
        pytest.param(
            "return flask.Response(rows_of_the_fiscal_year(year), mimetype='text/csv', "
            "headers=headers)\n",
            22,
            code("""
                return flask.Response(
                    swc(rows_of_the_fiscal_year(year)),
                    mimetype='text/csv',
                    headers=headers,
                )
            """),
            id="a statement grown too long goes one argument per line",
        ),
    ],
)
def test_wrap_call(before, column, after):
    assert fix.wrap_call(cst.parse_module(before), 1, column, "swc").code == after


def test_wrap_call_without_the_call_skips():
    with pytest.raises(SkipFix, match="cannot find"):
        fix.wrap_call(cst.parse_module("x = 1\n"), 1, 0, "swc")


# --- diagnosis and fix on small projects ----------------------------------------------------

FACTORY = code("""
    from flask import Flask


    def create_app():
        app = Flask(__name__)
        from shop.views import bp

        app.register_blueprint(bp)
        return app
""")
VIEWS = code("""
    from flask import Blueprint
    from flask import Response
    from flask import request

    bp = Blueprint("shop", __name__)


    @bp.get("/items.csv")
    def items():
        def generate():
            yield request.args["q"]

        return Response(generate(), mimetype="text/csv")
""")


def body_event(
    path: str = "shop/views.py",
    function: str = "generate",
    line: int = 11,
    *,
    message: str = REQUEST_MESSAGE,
    loop: str = "/site-packages/werkzeug/wrappers/response.py",
) -> Event:
    frames = (
        Frame("/site-packages/werkzeug/wrappers/response.py", "get_data", 281),
        Frame("/site-packages/werkzeug/wsgi.py", "__next__", 272),
        Frame(loop, "_iter_encoded", 32),
        Frame(path, function, line, in_app=True),
        Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
    )
    return Event((ExceptionInfo("RuntimeError", message, frames=frames),), thread_name="MainThread")


def shop(files: dict[str, str] | None = None) -> Project:
    return Project({"shop/__init__.py": FACTORY, "shop/views.py": VIEWS, **(files or {})})


def fixed(project: Project, event: Event | None = None) -> dict[str, str]:
    return fixed_once(RECIPE, event or body_event(), project)


@pytest.mark.parametrize(
    "loop",
    [
        "/site-packages/werkzeug/wrappers/response.py",
        "/site-packages/werkzeug/wrappers/base_response.py",
        "/site-packages/werkzeug/wrappers.py",
    ],
    ids=["werkzeug-2", "werkzeug-1.0", "werkzeug-0.12"],
)
def test_nested_generator_is_wrapped_where_the_view_hands_it_over(loop):
    diagnosis = RECIPE.diagnose(body_event(loop=loop), shop())
    assert diagnosis is not None
    assert "handed over at shop/views.py:13" in diagnosis.explanation
    views = fixed(shop())["shop/views.py"]
    assert "from flask import stream_with_context\n" in views
    assert 'return Response(stream_with_context(generate()), mimetype="text/csv")' in views


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        pytest.param(
            VIEWS.replace('Response(generate(), mimetype="text/csv")', "generate()"),
            "return stream_with_context(generate())",
            id="returned",
        ),
        pytest.param(
            VIEWS.replace(
                '    return Response(generate(), mimetype="text/csv")',
                "    body = generate()\n    return body, 200",
            ),
            "body = stream_with_context(generate())",
            id="through a name",
        ),
        pytest.param(
            VIEWS.replace(
                'Response(generate(), mimetype="text/csv")',
                "current_app.response_class(generate())",
            ).replace("import request", "import current_app, request"),
            "current_app.response_class(stream_with_context(generate()))",
            id="the app's response class",
        ),
        pytest.param(
            VIEWS.replace(
                "from flask import Blueprint\n", "import flask\nfrom flask import Blueprint\n"
            ),
            "Response(flask.stream_with_context(generate()),",
            id="named through import flask",
        ),
        pytest.param(
            VIEWS.replace('@bp.get("/items.csv")\n', "").replace(
                "bp = Blueprint", 'bp = Blueprint("x", __name__)\nother = Blueprint'
            )
            + '\n\nbp.add_url_rule("/items.csv", view_func=items)\n',
            "Response(stream_with_context(generate())",
            id="view registered with add_url_rule",
        ),
    ],
)
def test_handed_over_variants(views, expected):
    project = shop({"shop/views.py": views})
    event = body_event(line=next(i for i, t in enumerate(views.splitlines(), 1) if "yield" in t))
    assert expected in fixed(project, event)["shop/views.py"]


def test_top_level_generator_of_another_module():
    rows = code("""
        from flask import g


        def rows(n):
            for i in range(n):
                yield g.prefix + str(i)
    """)
    views = code("""
        from flask import Blueprint
        from flask import Response

        from shop.rows import rows

        bp = Blueprint("shop", __name__)


        @bp.get("/rows")
        def listing():
            return Response(rows(3))
    """)
    project = shop({"shop/rows.py": rows, "shop/views.py": views})
    event = body_event("shop/rows.py", "rows", 6, message="Working outside of application context.")
    changed = fixed(project, event)
    assert list(changed) == ["shop/views.py"]
    assert "return Response(stream_with_context(rows(3)))" in changed["shop/views.py"]


@pytest.mark.parametrize(
    ("views", "reason"),
    [
        pytest.param(
            VIEWS.replace(
                "        yield request.args",
                '        session["seen"] = 1\n        yield request.args',
            ).replace("import request", "import request, session"),
            "changes the session",
            id="generator writes the session",
        ),
        pytest.param(
            VIEWS.replace('@bp.get("/items.csv")\n', ""),
            "may run outside a request",
            id="not a view",
        ),
    ],
)
def test_fix_skips(views, reason):
    project = shop({"shop/views.py": views})
    event = body_event(line=next(i for i, t in enumerate(views.splitlines(), 1) if "yield" in t))
    diagnosis = RECIPE.diagnose(event, project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason
    (found,) = RECIPE.detect("shop/views.py", project)
    assert not RECIPE.offers_fix(found) and reason in found.facts["reason"]
    assert f"No fix is offered: {found.facts['reason']}." in found.explanation


@pytest.mark.parametrize(
    ("event", "views"),
    [
        pytest.param(
            body_event(message="Working outside of the loop."), VIEWS, id="not a context error"
        ),
        pytest.param(body_event(loop="/site-packages/other.py"), VIEWS, id="not a response body"),
        pytest.param(body_event(function="other"), VIEWS, id="frame is not the generator"),
        pytest.param(
            body_event(),
            VIEWS.replace("Response(generate(),", "Response(stream_with_context(generate()),"),
            id="already wrapped",
        ),
        pytest.param(
            body_event(),
            VIEWS.replace('Response(generate(), mimetype="text/csv")', '"".join(generate())'),
            id="generator consumed in the view",
        ),
        pytest.param(
            body_event(line=12),
            VIEWS.replace("    def generate():", "    @stream_with_context\n    def generate():"),
            id="generator decorated with stream_with_context",
        ),
    ],
)
def test_not_diagnosed(event, views):
    assert RECIPE.diagnose(event, shop({"shop/views.py": views})) is None


# --- detection ------------------------------------------------------------------------------


def test_detect_finds_the_first_read_in_the_generator():
    [finding] = RECIPE.detect("shop/views.py", shop())
    assert (finding.location.line, finding.location.column) == (11, 15)
    assert "`request` needs a request" in finding.explanation
    assert finding.facts["generator"] == {
        "path": "shop/views.py",
        "function": "generate",
        "line": 10,
    }
    result = apply_fix(RECIPE, finding, shop())
    assert isinstance(result, FixSuccess), result


@pytest.mark.parametrize(
    "views",
    [
        pytest.param(
            VIEWS.replace('yield request.args["q"]', "yield q").replace(
                "    def generate():", '    q = request.args["q"]\n\n    def generate():'
            ),
            id="values read in the view",
        ),
        pytest.param(
            VIEWS.replace("Response(generate(),", "Response(stream_with_context(generate()),"),
            id="already wrapped",
        ),
        pytest.param(
            VIEWS.replace('Response(generate(), mimetype="text/csv")', '"".join(generate())'),
            id="consumed in the view",
        ),
        pytest.param(
            VIEWS.replace("    def generate():", "    @stream_with_context\n    def generate():"),
            id="decorated with stream_with_context",
        ),
    ],
)
def test_detect_stays_silent(views):
    assert list(RECIPE.detect("shop/views.py", shop({"shop/views.py": views}))) == []


#: A generator handed over as a body by a class's ``get``, a view's or not.
CLASS_BODY = """\
from flask import Response, request
from flask.views import MethodView


def generate():
    yield request.args["q"]


class Export({base}):
    def get(self):
        return Response(generate())
"""


def test_detect_follows_the_body_into_a_class_based_view():
    project = Project({"app.py": CLASS_BODY.format(base="MethodView")})
    [finding] = RECIPE.detect("app.py", project)
    assert finding.facts["calls"][0]["line"] == 11
    assert RECIPE.offers_fix(finding)


def test_detect_leaves_alone_a_class_flask_does_not_run_for_a_request():
    project = Project({"app.py": CLASS_BODY.format(base="object")})
    assert list(RECIPE.detect("app.py", project)) == []


FIX_CASES = fix_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_each_fix_case(case_dir):
    assert_detect_agrees_with_diagnose(RECIPE, load_case(case_dir), "generator")


# --- the cases, run for real ----------------------------------------------------------------

FAILURE = "Working outside of"


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0 and FAILURE in before.output, before.output
    assert after.returncode == 0 and "Traceback" not in after.output, after.output
