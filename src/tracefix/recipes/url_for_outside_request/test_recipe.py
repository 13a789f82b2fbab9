"""CTX112: what the project says about SERVER_NAME, the two edits, the diagnosis of both errors,
detect, and the recorded cases."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Entry
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import run_case
from tracefix.recipes.url_for_outside_request import UrlForOutsideRequest
from tracefix.recipes.url_for_outside_request.fix import swap_to_request_context
from tracefix.recipes.url_for_outside_request.fix import wrap_for_url_for
from tracefix.recipes.url_for_outside_request.server_name import server_name

NO_SERVER_NAME = (
    "Unable to build URLs outside an active request without 'SERVER_NAME' configured. Also "
    "configure 'APPLICATION_ROOT' and 'PREFERRED_URL_SCHEME' as needed."
)
FACTORY = textwrap.dedent("""\
    from flask import Flask


    def create_app():
        app = Flask(__name__)
        app.config.from_object("config.Config")

        @app.get("/users")
        def users():
            return []

        return app
    """)
CONFIG = textwrap.dedent("""\
    class Config:
        SECRET_KEY = "dev"
    """)
SCRIPT = textwrap.dedent("""\
    from flask import url_for

    from app import create_app

    app = create_app()
    with app.app_context():
        print(url_for("users"))
    """)


def project(files: dict[str, str] | None = None) -> Project:
    defaults = {"app/__init__.py": FACTORY, "config.py": CONFIG, "scripts/links.py": SCRIPT}
    merged = {**defaults, **(files or {})}
    return Project({path: text for path, text in merged.items() if text})


SERVER_NAMES = [
    pytest.param({}, "none", id="never mentioned"),
    pytest.param(
        {"config.py": CONFIG + '    SERVER_NAME = "example.com"\n'}, "set", id="root config class"
    ),
    pytest.param(
        {"config.py": CONFIG + '\n\nclass Production(Config):\n    SERVER_NAME = "example.com"\n'},
        "unclear",
        id="only one configuration",
    ),
    pytest.param(
        {"config.py": CONFIG + '    SERVER_NAME = os.environ.get("SERVER_NAME")\n'},
        "unclear",
        id="from the environment",
    ),
    pytest.param(
        {
            "app/__init__.py": FACTORY.replace(
                '("config.Config")\n',
                '("config.Config")\n    app.config["SERVER_NAME"] = "x.org"\n',
            )
        },
        "set",
        id="set in the factory",
    ),
    pytest.param(
        {
            "app/__init__.py": FACTORY.replace(
                '("config.Config")\n',
                '("config.Config")\n    if debug:\n        app.config.update(SERVER_NAME="x")\n',
            )
        },
        "unclear",
        id="set under an if",
    ),
    pytest.param(
        {"tests/conftest.py": 'app.config["SERVER_NAME"] = "localhost"\n'},
        "none",
        id="only the tests set it",
    ),
]


@pytest.mark.parametrize(("files", "state"), SERVER_NAMES)
def test_server_name_states(files, state):
    assert server_name(project(files)).state == state


def test_swap_turns_the_scripts_app_context_into_a_test_request_context():
    before = project()
    (change,) = swap_to_request_context(before, "scripts/links.py", 6, "with app.app_context():")
    assert change.after == SCRIPT.replace("app.app_context()", "app.test_request_context()")
    after = before.with_changes({change.path: change.after})
    with pytest.raises(SkipFix):
        swap_to_request_context(after, "scripts/links.py", 6, "with app.app_context():")
    with pytest.raises(SkipFix, match="already"):
        swap_to_request_context(after, "scripts/links.py", 6, None)


def test_swap_leaves_other_items_of_the_with_alone():
    script = SCRIPT.replace(
        "with app.app_context():", 'with open("out.txt", "w") as out, app.app_context():'
    )
    (change,) = swap_to_request_context(
        project({"scripts/links.py": script}), "scripts/links.py", 6, None
    )
    assert 'with open("out.txt", "w") as out, app.test_request_context():' in change.after


BARE = textwrap.dedent("""\
    from flask import url_for

    from app import create_app

    app = create_app()
    print(url_for("users"))
    """)


@pytest.mark.parametrize("method", ["test_request_context", "app_context"])
def test_wrap_uses_the_method_asked_for(method):
    before = project({"scripts/links.py": BARE})
    (change,) = wrap_for_url_for(before, "scripts/links.py", 6, 'print(url_for("users"))', method)
    assert change.after.endswith(f'with app.{method}():\n    print(url_for("users"))\n')
    after = before.with_changes({change.path: change.after})
    with pytest.raises(SkipFix, match="already runs inside"):
        wrap_for_url_for(after, "scripts/links.py", 7, 'print(url_for("users"))', method)


SCRIPT_FRAME = Frame(
    "scripts/links.py",
    "<module>",
    7,
    "__main__",
    context_line='    print(url_for("users"))',
    in_app=True,
)
URL_FOR = Frame("/site-packages/flask/helpers.py", "url_for", 239, "flask.helpers")
APP_URL_FOR = Frame("/site-packages/flask/app.py", "url_for", 1090, "flask.app")
RUNPY = Frame("<frozen runpy>", "_run_code", 88, "runpy")


def event(*frames: Frame, message: str = NO_SERVER_NAME) -> Event:
    return Event(
        exceptions=(ExceptionInfo("RuntimeError", message, "builtins", frames),),
        thread_name="MainThread",
        entry=Entry(argv=("python", "-m", "scripts.links")),
    )


def test_the_server_name_error_in_a_script_swaps_its_context():
    diagnosis = UrlForOutsideRequest().diagnose(
        event(RUNPY, SCRIPT_FRAME, URL_FOR, APP_URL_FOR), project()
    )
    assert diagnosis is not None
    assert diagnosis.facts["kind"] == "swap"
    assert diagnosis.facts["line"] == 6
    assert "pushed at scripts/links.py:6" in diagnosis.explanation


def test_the_server_name_error_in_a_shared_function_is_explained_only():
    helper = textwrap.dedent("""\
        from flask import current_app, url_for


        def links():
            with current_app.app_context():
                return url_for("users")
        """)
    before = project({"app/links.py": helper})
    frames = (
        RUNPY,
        Frame("scripts/links.py", "<module>", 3, "__main__", context_line="links()", in_app=True),
        Frame(
            "app/links.py",
            "links",
            6,
            "app.links",
            context_line='return url_for("users")',
            in_app=True,
        ),
        URL_FOR,
        APP_URL_FOR,
    )
    diagnosis = UrlForOutsideRequest().diagnose(event(*frames), before)
    assert diagnosis is not None and diagnosis.facts["kind"] == "none"
    assert "other code may call" in diagnosis.explanation


def test_the_server_name_error_in_a_thread_is_explained_only():
    worker = textwrap.dedent("""\
        from flask import url_for


        def notify(app):
            with app.app_context():
                print(url_for("users"))
        """)
    frames = (
        Frame("/stdlib/threading.py", "run", 982, "threading"),
        Frame(
            "app/jobs.py",
            "notify",
            6,
            "app.jobs",
            context_line='print(url_for("users"))',
            in_app=True,
        ),
        URL_FOR,
        APP_URL_FOR,
    )
    failing = Event(
        exceptions=(ExceptionInfo("RuntimeError", NO_SERVER_NAME, "builtins", frames),),
        thread_name="Thread-1 (notify)",
    )
    diagnosis = UrlForOutsideRequest().diagnose(failing, project({"app/jobs.py": worker}))
    assert diagnosis is not None and diagnosis.facts["kind"] == "none"
    assert "background thread" in diagnosis.explanation


def test_the_server_name_error_with_server_name_configured_is_explained_only():
    before = project({"config.py": CONFIG + '    SERVER_NAME = os.environ["HOST"]\n'})
    diagnosis = UrlForOutsideRequest().diagnose(
        event(RUNPY, SCRIPT_FRAME, URL_FOR, APP_URL_FOR), before
    )
    assert diagnosis is not None and diagnosis.facts["kind"] == "none"
    assert "config.py:3" in diagnosis.explanation


BARE_FRAME = Frame(
    "scripts/links.py",
    "<module>",
    6,
    "__main__",
    context_line='print(url_for("users"))',
    in_app=True,
)
CONTEXT_ERROR = "Working outside of application context."


def test_url_for_without_any_context_wraps_a_test_request_context():
    diagnosis = UrlForOutsideRequest().diagnose(
        event(RUNPY, BARE_FRAME, URL_FOR, message=CONTEXT_ERROR),
        project({"scripts/links.py": BARE}),
    )
    assert diagnosis is not None
    assert (diagnosis.facts["kind"], diagnosis.facts["method"]) == ("wrap", "test_request_context")


def test_url_for_without_any_context_and_server_name_set_wraps_an_app_context():
    before = project(
        {"scripts/links.py": BARE, "config.py": CONFIG + '    SERVER_NAME = "example.com"\n'}
    )
    diagnosis = UrlForOutsideRequest().diagnose(
        event(RUNPY, BARE_FRAME, URL_FOR, message=CONTEXT_ERROR), before
    )
    assert diagnosis is not None
    assert (diagnosis.facts["kind"], diagnosis.facts["method"]) == ("wrap", "app_context")
    (change,) = UrlForOutsideRequest().fix(diagnosis, before)
    assert "with app.app_context():" in change.after


def test_absolute_urls_are_never_given_localhost():
    script = BARE.replace('url_for("users")', 'url_for("users", _external=True)')
    frame = Frame(
        "scripts/links.py",
        "<module>",
        6,
        "__main__",
        context_line=script.splitlines()[5],
        in_app=True,
    )
    diagnosis = UrlForOutsideRequest().diagnose(
        event(RUNPY, frame, URL_FOR, message=CONTEXT_ERROR), project({"scripts/links.py": script})
    )
    assert diagnosis is not None and diagnosis.facts["kind"] == "none"
    with pytest.raises(SkipFix, match="_external=True"):
        UrlForOutsideRequest().fix(diagnosis, project({"scripts/links.py": script}))


NOT_DIAGNOSED = [
    pytest.param(
        event(
            RUNPY,
            BARE_FRAME,
            Frame("/site-packages/flask/templating.py", "render_template", 1, "x"),
            message=CONTEXT_ERROR,
        ),
        id="render_template without a context: an app context may do (CTX101)",
    ),
    pytest.param(
        event(RUNPY, BARE_FRAME, URL_FOR, message="Working outside of request context."),
        id="a request-context error",
    ),
    pytest.param(
        event(
            RUNPY,
            Frame(
                "scripts/links.py",
                "<module>",
                6,
                "scripts.links",
                context_line='print(url_for("users"))',
                in_app=True,
            ),
            URL_FOR,
            message=CONTEXT_ERROR,
        ),
        id="no context, but not a script run as __main__",
    ),
]


@pytest.mark.parametrize("failure", NOT_DIAGNOSED)
def test_not_diagnosed(failure):
    assert UrlForOutsideRequest().diagnose(failure, project({"scripts/links.py": BARE})) is None


def test_detect_finds_url_for_in_a_scripts_app_context():
    before = project()
    (finding,) = UrlForOutsideRequest().detect("scripts/links.py", before)
    assert str(finding.location) == "scripts/links.py:7:11"
    (change,) = UrlForOutsideRequest().fix(finding, before)
    assert "with app.test_request_context():" in change.after


LINKS_MODULE = textwrap.dedent("""\
    from flask import url_for


    def user_links():
        return [url_for("users")]
    """)
MAIN_BLOCK = textwrap.dedent("""\
    from app import create_app
    from app.links import user_links

    app = create_app()

    if __name__ == "__main__":
        print(user_links())
    """)


@pytest.mark.parametrize(
    ("files", "location", "method"),
    [
        pytest.param(
            {"scripts/links.py": BARE},
            "scripts/links.py:6:7",
            "test_request_context",
            id="at the top level",
        ),
        pytest.param(
            {"scripts/links.py": MAIN_BLOCK, "app/links.py": LINKS_MODULE},
            "scripts/links.py:7:11",
            "test_request_context",
            id="through a project function, in the __main__ block",
        ),
        pytest.param(
            {"scripts/links.py": BARE, "config.py": CONFIG + '    SERVER_NAME = "example.com"\n'},
            "scripts/links.py:6:7",
            "app_context",
            id="SERVER_NAME set: an app context does",
        ),
    ],
)
def test_detect_finds_a_script_reaching_url_for_with_no_context(files, location, method):
    """What ``diagnose`` makes of the run's error, ``detect`` finds in the code, with the same
    fix: the script's statement wrapped in the context the project's configuration calls for."""
    before = project(files)
    (finding,) = UrlForOutsideRequest().detect("scripts/links.py", before)
    assert str(finding.location) == location
    assert (finding.facts["kind"], finding.facts["method"]) == ("wrap", method)
    (change,) = UrlForOutsideRequest().fix(finding, before)
    assert f"with app.{method}():" in change.after


def test_detect_reports_absolute_urls_with_no_context_without_a_fix():
    script = BARE.replace('url_for("users")', 'url_for("users", _external=True)')
    before = project({"scripts/links.py": script})
    (finding,) = UrlForOutsideRequest().detect("scripts/links.py", before)
    assert finding.facts["kind"] == "none"
    with pytest.raises(SkipFix, match="_external=True"):
        UrlForOutsideRequest().fix(finding, before)


DETECT_SILENT = [
    pytest.param({"config.py": CONFIG + '    SERVER_NAME = "example.com"\n'}, id="SERVER_NAME set"),
    pytest.param(
        {
            "scripts/links.py": SCRIPT.replace(
                'url_for("users")', 'url_for("users", _external=True)'
            )
        },
        id="absolute URLs",
    ),
    pytest.param({"app/cli.py": "from scripts import links\n"}, id="a module others import"),
    pytest.param(
        {"scripts/links.py": BARE, "app/cli.py": "from scripts import links\n"},
        id="url_for with no context in a module others import (an import-time use)",
    ),
    pytest.param(
        {
            "scripts/links.py": BARE.replace("print(", "with app.app_context():\n    print("),
            "config.py": CONFIG + '    SERVER_NAME = "example.com"\n',
        },
        id="an app context, SERVER_NAME set",
    ),
]


@pytest.mark.parametrize("files", DETECT_SILENT)
def test_detect_is_silent(files):
    assert list(UrlForOutsideRequest().detect("scripts/links.py", project(files))) == []


@pytest.mark.parametrize("case", fix_cases(__file__), ids=lambda case: case.name)
def test_expected_tree_makes_the_command_pass(case, tmp_path):
    outcome = run_case(case, tmp_path / "project", fixed=True)
    assert outcome.returncode == 0, outcome.output
