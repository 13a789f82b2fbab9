"""CTX107 click-command-without-app-context: the codemod, diagnosis, plans, detect, and the
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
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import fixed_once
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.click_command import ClickCommandWithoutAppContext
from tracefix.recipes.click_command.fix import add_decorator
from tracefix.testing import load_case

RECIPE = ClickCommandWithoutAppContext()
APP_MESSAGE = "Working outside of application context."


# --- the decorator codemod ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            '@click.command("seed")\n@click.option("--n")\ndef seed(n):\n    pass\n',
            '@click.command("seed")\n@click.option("--n")\n@with_appcontext\ndef seed(n):\n'
            "    pass\n",
            id="innermost, below Click's decorators",
        ),
        pytest.param(
            "x = 1\n\n\ndef seed():\n    pass\n",
            "x = 1\n\n\n@with_appcontext\ndef seed():\n    pass\n",
            id="the blank lines stay above the first decorator",
        ),
    ],
)
def test_add_decorator(before, after):
    assert add_decorator(cst.parse_module(before), "seed", "with_appcontext").code == after


def test_add_decorator_twice_skips():
    module = cst.parse_module("@with_appcontext\ndef seed():\n    pass\n")
    with pytest.raises(SkipFix, match="already decorated"):
        add_decorator(module, "seed", "with_appcontext")


# --- diagnosis and plans on small projects ------------------------------------------------

FACTORY = code("""
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()


    def create_app(config_name):
        app = Flask(__name__)
        db.init_app(app)
        return app
""")
WSGI = code("""
    import os

    from app import create_app

    app = create_app(os.getenv("FLASK_CONFIG") or "default")
""")
MANAGE = code("""
    import click

    from app import db


    @click.group()
    def cli():
        pass


    @cli.command()
    def seed():
        db.session.commit()


    if __name__ == "__main__":
        cli()
""")


def manage(manage_py: str = MANAGE, files: dict[str, str] | None = None) -> Project:
    base = {"app/__init__.py": FACTORY, "wsgi.py": WSGI, "manage.py": manage_py}
    return Project({path: code(text) for path, text in {**base, **(files or {})}.items()})


def line_in(project: Project, path: str, text: str) -> int:
    source = project.source(path) or ""
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def click_event(
    project: Project,
    function: str = "seed",
    text: str = "db.session",
    *,
    path: str = "manage.py",
    message: str = APP_MESSAGE,
    thread: str | None = None,
    flask_cli: bool = False,
) -> Event:
    """An event as `python manage.py seed` records it: Click's invoke calls the command."""
    click_core = "/site-packages/click/core.py"
    frames = [
        Frame(path, "<module>", 99, in_app=True, module="__main__"),
        Frame(click_core, "main", 1560),
        Frame(click_core, "invoke", 1414),
        Frame(click_core, "invoke", 911),
        Frame(path, function, line_in(project, path, text), in_app=True),
        Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519),
    ]
    if flask_cli:
        frames.insert(1, Frame("/site-packages/flask/cli.py", "main", 1100))
    exception = ExceptionInfo("RuntimeError", message, frames=tuple(frames))
    return Event((exception,), thread_name=thread)


def fixed(project: Project, event: Event | None = None) -> str:
    """The new ``manage.py`` (or the one changed file), checked to be idempotent."""
    [after] = fixed_once(RECIPE, event or click_event(project), project).values()
    return after


def test_plain_group_pushes_with_the_factory_called_as_wsgi_py_calls_it():
    after = fixed(manage())
    assert after.startswith("import os\n\nimport click\n\nfrom app import create_app, db\n")
    assert (
        "def seed():\n"
        '    app = create_app(os.getenv("FLASK_CONFIG") or "default")\n'
        "    with app.app_context():\n"
        "        db.session.commit()\n"
    ) in after


def test_the_scripts_own_module_level_app_is_used():
    script = MANAGE.replace(
        "from app import db\n", 'from app import create_app, db\n\napp = create_app("dev")\n'
    )
    after = fixed(manage(script))
    assert "def seed():\n    with app.app_context():\n        db.session.commit()\n" in after


def test_a_factory_the_script_defines_itself_is_called_there():
    script = """
        import click
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            return app


        @click.command()
        def seed():
            db.session.commit()
    """
    project = Project({"manage.py": code(script)})
    after = fixed(project)
    assert "    app = create_app()\n    with app.app_context():\n" in after


def test_the_project_instance_is_imported():
    project = Project(
        {
            "web.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            "manage.py": code("""
                import click
                from flask import current_app


                @click.command()
                def show():
                    click.echo(current_app.name)
            """),
        }
    )
    after = fixed(project, click_event(project, "show", "current_app.name"))
    assert "import click\nfrom flask import current_app\n\nfrom web import app\n" in after
    assert "    with app.app_context():\n        click.echo(current_app.name)\n" in after


def test_a_command_that_makes_its_own_app_gets_that_apps_context():
    script = MANAGE.replace(
        "def seed():\n    db.session.commit()",
        'def seed():\n    """Seed."""\n    app = create_app("dev")\n    db.session.commit()',
    ).replace("from app import db", "from app import create_app, db")
    after = fixed(manage(script))
    assert (
        'def seed():\n    """Seed."""\n    app = create_app("dev")\n'
        "    with app.app_context():\n        db.session.commit()\n"
    ) in after


def test_the_failing_line_in_a_helper_still_pushes_in_the_command():
    script = MANAGE.replace("    db.session.commit()", "    helpers.reset()")
    script = script.replace("from app import db\n", "from app import helpers\n")
    project = manage(
        script,
        {"app/helpers.py": "from app import db\n\n\ndef reset():\n    db.session.commit()\n"},
    )
    event = click_event(project, text="helpers.reset()")
    after = fixed(project, event)
    assert "    with app.app_context():\n        helpers.reset()\n" in after


def test_a_group_callback_is_fixed_like_a_command():
    script = MANAGE.replace("def cli():\n    pass", "def cli():\n    db.create_all()")
    project = manage(script)
    after = fixed(project, click_event(project, "cli", "db.create_all()"))
    assert "def cli():\n    app = create_app(" in after


FLASK_GROUP_MANAGE = code("""
    from flask.cli import FlaskGroup

    from app import create_app
    from app.commands import seed

    cli = FlaskGroup(create_app=create_app)
    cli.add_command(seed)
""")
COMMANDS = code("""
    import click

    from app import db


    @click.command()
    def seed():
        db.session.commit()
""")


def test_a_plain_command_added_to_a_flask_group_gets_with_appcontext():
    project = manage(FLASK_GROUP_MANAGE, {"app/commands.py": COMMANDS})
    after = fixed(project, click_event(project, path="app/commands.py"))
    assert after == code("""
        import click
        from flask.cli import with_appcontext

        from app import db


        @click.command()
        @with_appcontext
        def seed():
            db.session.commit()
    """)


def test_a_command_of_a_plain_group_added_to_a_flask_group_gets_with_appcontext():
    commands = COMMANDS.replace(
        "@click.command()", "@click.group()\ndef data():\n    pass\n\n\n@data.command()"
    )
    manage_py = FLASK_GROUP_MANAGE.replace("import seed", "import data").replace(
        "add_command(seed)", "add_command(data)"
    )
    project = manage(manage_py, {"app/commands.py": commands})
    after = fixed(project, click_event(project, path="app/commands.py"))
    assert "@data.command()\n@with_appcontext\ndef seed():\n" in after


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {
                "manage.py": MANAGE.replace(
                    "from app import db", "from flask import request\n\nfrom app import db"
                ).replace(
                    "    db.session.commit()", "    db.session.commit()\n    print(request.path)"
                )
            },
            "reads request",
            id="the command reads the request",
        ),
        pytest.param(
            {
                "tests/test_manage.py": """
                    from click.testing import CliRunner

                    from manage import cli


                    def test_seed(app):
                        assert CliRunner().invoke(cli, ["seed"]).exit_code == 0
                """
            },
            "tests/test_manage.py:7 invokes cli from a test",
            id="a test invokes the group and the app comes from the factory",
        ),
        pytest.param(
            {
                "manage.py": MANAGE.replace(
                    "if __name__",
                    "flask_cli = FlaskGroup(create_app=lambda: None)\n"
                    "flask_cli.add_command(seed)\n\n\nif __name__",
                ).replace("import click\n", "import click\nfrom flask.cli import FlaskGroup\n")
            },
            "under a FlaskGroup and under other groups",
            id="both under a FlaskGroup and a plain group",
        ),
        pytest.param(
            {"manage.py": MANAGE.replace("def seed():\n", "def seed(app=None, flask_app=None):\n")},
            "already uses the names app and flask_app",
            id="the command already uses both names",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = manage(
        files.get("manage.py", MANAGE), {k: v for k, v in files.items() if k != "manage.py"}
    )
    diagnosis = RECIPE.diagnose(click_event(project), project)
    assert diagnosis is not None
    assert "No fix is offered" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


def test_a_plain_group_added_to_a_flask_group_gets_with_appcontext():
    """Lemur's ``cli.add_command(source_cli, "source")``: run through Flask's command line,
    but ``FlaskGroup`` pushes a context only for ``app.cli``'s commands."""
    manage_py = MANAGE.replace(
        "if __name__",
        "flask_cli = FlaskGroup(create_app=lambda: None)\nflask_cli.add_command(cli)\n\n\n"
        "if __name__",
    ).replace("import click\n", "import click\nfrom flask.cli import FlaskGroup\n")
    project = manage(manage_py)
    event = click_event(project, flask_cli=True)
    diagnosis = RECIPE.diagnose(event, project)
    assert diagnosis is not None and "`@with_appcontext` pushes" in diagnosis.explanation
    assert "@cli.command()\n@with_appcontext\ndef seed():" in fixed(project, event)


def test_tests_that_invoke_it_do_not_stop_a_fix_with_the_projects_only_app():
    project = Project(
        {
            "web.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            "manage.py": (
                "import click\nfrom flask import g\n\n\n@click.command()\ndef show():\n"
                "    print(g)\n"
            ),
            "tests/test_manage.py": "from manage import show\n\n\ndef test_show():\n    show()\n",
        }
    )
    assert "with app.app_context():" in fixed(project, click_event(project, "show", "print(g)"))


@pytest.mark.parametrize(
    ("manage_py", "event_options"),
    [
        pytest.param(MANAGE, {"thread": "Thread-1"}, id="in a thread"),
        pytest.param(MANAGE, {"message": "Working outside of request context."}, id="request"),
        pytest.param(
            MANAGE.replace("@cli.command()", "@app.cli.command()").replace(
                "from app import db", "from app import db\nfrom wsgi import app"
            ),
            {},
            id="declared on app.cli",
        ),
        pytest.param(
            MANAGE.replace("@click.group()", "@click.group(cls=FlaskGroup)").replace(
                "import click\n", "import click\nfrom flask.cli import FlaskGroup\n"
            ),
            {},
            id="declared on a FlaskGroup",
        ),
        pytest.param(
            MANAGE.replace("def seed():", "@with_appcontext\ndef seed():").replace(
                "import click\n", "import click\nfrom flask.cli import with_appcontext\n"
            ),
            {},
            id="decorated with with_appcontext",
        ),
        pytest.param(
            MANAGE.replace(
                "def seed():\n", "def seed():\n    with app.app_context():\n        pass\n"
            ),
            {},
            id="the command pushes a context itself",
        ),
    ],
)
def test_not_diagnosed(manage_py, event_options):
    project = manage(manage_py)
    assert RECIPE.diagnose(click_event(project, **event_options), project) is None


# --- detect -------------------------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


def detected(project: Project) -> list:
    return [d for path in project.python_files() for d in RECIPE.detect(path, project)]


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    case = load_case(case_dir)
    from_event = RECIPE.diagnose(case.event, case.project)
    assert from_event is not None
    found = [
        d
        for d in detected(case.project)
        if d.facts["command"]["function"] == from_event.facts["command"]["function"]
    ]
    assert len(found) == 1, found
    assert found[0].location.column > 0
    result = apply_fix(RECIPE, found[0], case.project)
    assert isinstance(result, FixSuccess), result
    assert {change.path: change.after for change in result.changes} == case.expected


#: The noop case whose command fails for sure when run as a script, where only the fix declines
#: (tests invoke it, maybe in their own app's context): the scan reports it, unfixable.
REPORTED_WITHOUT_FIX = ("skip_cli_invoked_by_tests",)


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_offers_no_fix_on_a_noop_case(case_dir):
    case = load_case(case_dir)
    found = detected(case.project)
    assert len(found) == (case_dir.name in REPORTED_WITHOUT_FIX)
    for diagnosis in found:
        assert not RECIPE.offers_fix(diagnosis)
        assert f"No fix is offered: {diagnosis.facts['reason']}." in diagnosis.explanation


def test_detect_reports_each_command_with_its_first_use():
    script = MANAGE.replace(
        "if __name__", "@cli.command()\ndef show():\n    click.echo(db.engine.url)\n\n\nif __name__"
    )
    found = {d.facts["command"]["function"]: d.location for d in detected(manage(script))}
    assert {name: (loc.line, loc.column) for name, loc in found.items()} == {
        "seed": (13, 5),
        "show": (18, 16),
    }


@pytest.mark.parametrize(
    "manage_py",
    [
        pytest.param(
            MANAGE.replace(
                "if __name__", "from wsgi import app\n\napp.cli.add_command(cli)\n\n\nif __name__"
            ),
            id="the group is added to app.cli",
        ),
        pytest.param(
            MANAGE.replace(
                "def cli():\n    pass",
                "@click.pass_context\ndef cli(ctx):\n"
                "    ctx.with_resource(create_app('x').app_context())",
            ).replace("from app import db", "from app import create_app, db"),
            id="the group pushes a context for its commands",
        ),
        pytest.param(
            MANAGE.replace("    db.session.commit()", "    click.echo('hi')"), id="no Flask"
        ),
        pytest.param(
            MANAGE.replace(
                "    cli()", '    with create_app("dev").app_context():\n        cli()'
            ).replace("from app import db", "from app import create_app, db"),
            id="the script calls the group inside an app context",
        ),
        pytest.param(
            MANAGE.replace("@click.group()\ndef cli", "@click.group()\n@with_appcontext\ndef cli")
            .replace("import click\n", "import click\nfrom flask.cli import with_appcontext\n")
            .replace(
                "    db.session.commit()",
                "    seed_all()\n\n\ndef seed_all():\n    db.session.commit()",
            ),
            id="the group is decorated with @with_appcontext (Lemur's), the command reaches db",
        ),
    ],
)
def test_detect_is_silent(manage_py):
    assert detected(manage(manage_py)) == []


def test_detect_is_silent_for_plain_commands_the_factory_adds_to_app_cli():
    factory = FACTORY.replace(
        "    return app\n",
        "    from app.commands import seed\n\n    app.cli.add_command(seed)\n    return app\n",
    )
    project = manage(FLASK_GROUP_MANAGE, {"app/__init__.py": factory, "app/commands.py": COMMANDS})
    project = Project({k: v for k, v in project.files.items() if k != "manage.py"})
    assert detected(project) == []


# --- the cases, run for real --------------------------------------------------------------


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0
    assert APP_MESSAGE in before.stderr
    assert after.returncode == 0, after.output
