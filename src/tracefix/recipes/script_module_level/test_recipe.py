"""CTX101: the codemod on inline scripts, the diagnosis on edge events, the recorded cases."""

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
from tracefix.recipes.script_module_level import ScriptModuleLevel
from tracefix.recipes.script_module_level.fix import wrap_script_statement

SCRIPT = "scripts/seed_db.py"
FACTORY_APP = {
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app(test_config=None):
            app = Flask(__name__)
            db.init_app(app)
            return app
        """,
    "app/models.py": """\
        from app import db


        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
        """,
}
INSTANCE_APP = {
    "app.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        db = SQLAlchemy(app)
        """,
}


def project(script: str, files: dict[str, str] | None = None) -> Project:
    sources = {path: textwrap.dedent(text) for path, text in (files or FACTORY_APP).items()}
    return Project({**sources, SCRIPT: textwrap.dedent(script)})


def line_of(source: str, text: str) -> int:
    """The first line of ``source`` that starts with ``text`` (else that contains it)."""
    lines = list(enumerate(textwrap.dedent(source).splitlines(), 1))
    starts = [number for number, line in lines if line.strip().startswith(text)]
    return starts[0] if starts else next(number for number, line in lines if text in line)


FIXES = [
    pytest.param(
        """\
        # scripts/seed_db.py
        from app.models import User
        from app import db
        user = User(name='Admin')
        db.session.add(user)
        db.session.commit() # RuntimeError: outside app context
        """,
        "db.session.add(user)",
        """\
        # scripts/seed_db.py
        from app.models import User
        from app import create_app, db

        app = create_app()

        with app.app_context():
            user = User(name='Admin')
            db.session.add(user)
            db.session.commit() # RuntimeError: outside app context
        """,
        id="the seed: app imported the project's way, the run before the failing line included",
    ),
    pytest.param(
        """\
        from app import db

        # Make the tables first.
        db.create_all()

        # Then the admin.
        db.session.commit()
        """,
        "db.create_all()",
        """\
        from app import create_app, db

        app = create_app()

        with app.app_context():
            # Make the tables first.
            db.create_all()

            # Then the admin.
            db.session.commit()
        """,
        id="comments move in with their statements and blank lines stay empty",
    ),
    pytest.param(
        """\
        from app import db

        db.create_all()


        def main():
            print("ok")


        if __name__ == "__main__":
            main()
        """,
        "db.create_all()",
        """\
        from app import create_app, db

        app = create_app()

        with app.app_context():
            db.create_all()


        def main():
            print("ok")


        if __name__ == "__main__":
            main()
        """,
        id="functions and the __main__ block after the run are left alone",
    ),
    pytest.param(
        """\
        from app import create_app, db

        app = create_app()
        db.create_all()
        """,
        "db.create_all()",
        """\
        from app import create_app, db

        app = create_app()
        with app.app_context():
            db.create_all()
        """,
        id="the script's own app is reused and never made twice",
    ),
    pytest.param(
        """\
        import app.models
        from app import db

        db.create_all()
        """,
        "db.create_all()",
        """\
        import app.models
        from app import create_app, db

        flask_app = create_app()

        with flask_app.app_context():
            db.create_all()
        """,
        id="a script where `app` names the package gets `flask_app`",
    ),
    pytest.param(
        """\
        from app import db

        ROLES = ("User", "Admin")
        LIMIT = 10

        for role in ROLES:
            db.session.add(role)
        """,
        "db.session.add(role)",
        """\
        from app import create_app, db

        ROLES = ("User", "Admin")
        LIMIT = 10

        app = create_app()

        with app.app_context():
            for role in ROLES:
                db.session.add(role)
        """,
        id="constants above the run stay at the top level",
    ),
    pytest.param(
        '''\
        """Seed."""
        from __future__ import annotations

        from app import db as database

        database.create_all()
        ''',
        "database.create_all()",
        '''\
        """Seed."""
        from __future__ import annotations

        from app import db as database
        from app import create_app

        app = create_app()

        with app.app_context():
            database.create_all()
        ''',
        id="the docstring and __future__ import stay first",
    ),
    pytest.param(
        """\
        from app import db

        if __name__ == "__main__": db.create_all(); print("done")  # first run
        """,
        "db.create_all()",
        """\
        from app import create_app, db

        if __name__ == "__main__":
            app = create_app()
            with app.app_context():
                db.create_all(); print("done")  # first run
        """,
        id="a one-line __main__ block is opened into an indented one",
    ),
    pytest.param(
        """\
        import sys

        sys.path.insert(0, ".")

        from app.models import User

        User.query.all()
        """,
        "User.query.all()",
        """\
        import sys

        sys.path.insert(0, ".")

        from app import create_app
        from app.models import User

        app = create_app()

        with app.app_context():
            User.query.all()
        """,
        id="the import goes below the sys.path set-up it may need",
    ),
    pytest.param(
        """\
        from app import app, db

        with app.app_context():
            db.create_all()
        db.session.commit()
        """,
        "db.session.commit()",
        """\
        from app import app, db

        with app.app_context():
            db.create_all()
        with app.app_context():
            db.session.commit()
        """,
        id="an earlier with-block ends the run; the imported instance is reused",
    ),
]


@pytest.mark.parametrize(("script", "failing", "expected"), FIXES)
def test_fix(script, failing, expected):
    files = INSTANCE_APP if "from app import app" in script else FACTORY_APP
    before = project(script, files)
    after = wrap_script_statement(before, SCRIPT, line_of(script, failing))
    assert after == textwrap.dedent(expected)
    fixed = before.with_changes({SCRIPT: after})
    with pytest.raises(SkipFix, match="already runs inside an app context"):
        wrap_script_statement(fixed, SCRIPT, line_of(after, failing))


def test_a_single_file_app_calls_its_own_factory_without_importing_it():
    script = """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            return app


        if __name__ == "__main__":
            db.create_all()
        """
    after = wrap_script_statement(project(script, {}), SCRIPT, line_of(script, "db.create_all()"))
    assert after.endswith(
        textwrap.dedent("""\
        if __name__ == "__main__":
            app = create_app()
            with app.app_context():
                db.create_all()
        """)
    )


def test_instance_is_imported_when_there_is_no_factory():
    script = """\
        from app import db

        db.create_all()
        """
    after = wrap_script_statement(project(script, INSTANCE_APP), SCRIPT, 3)
    assert after == textwrap.dedent("""\
        from app import app, db

        with app.app_context():
            db.create_all()
        """)


def test_the_apps_import_goes_into_the_projects_own_section():
    """Quay's layout: a script that imports only Flask gets the project's ``app`` in a block
    of its own below, where isort (and the project's linter) wants it, not sorted among
    Flask's."""
    script = """\
        from flask import current_app

        print(current_app.config["SERVER_NAME"])
        """
    after = wrap_script_statement(project(script, INSTANCE_APP), SCRIPT, 3)
    assert after == textwrap.dedent("""\
        from flask import current_app

        from app import app

        with app.app_context():
            print(current_app.config["SERVER_NAME"])
        """)


def test_factory_arguments_and_their_imports_come_from_manage_py():
    files = {
        **FACTORY_APP,
        "app/__init__.py": FACTORY_APP["app/__init__.py"].replace(
            "create_app(test_config=None)", "create_app(config_name)"
        ),
        "manage.py": """\
            import os

            from app import create_app

            app = create_app(os.getenv("FLASK_CONFIG") or "default")
            """,
        "tests/conftest.py": """\
            from app import create_app

            app = create_app("testing")
            """,
    }
    script = """\
        from app import db

        db.create_all()
        """
    after = wrap_script_statement(project(script, files), SCRIPT, 3)
    # The standard library's section apart from the project's, as isort has it.
    assert after == textwrap.dedent("""\
        import os

        from app import create_app, db

        app = create_app(os.getenv("FLASK_CONFIG") or "default")

        with app.app_context():
            db.create_all()
        """)


LAZY_APP = {
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app():
            global app
            app = Flask(__name__)
            db.init_app(app)
            return app


        def __getattr__(name):
            if name == "app":
                return create_app()
            raise AttributeError(name)
        """,
}

SKIPS = [
    pytest.param(
        """\
        from app import app, db

        db.create_all()
        """,
        "db.create_all()",
        LAZY_APP,
        "imports app from app, which binds it only when it runs",
        id="the script imports an app its module makes when asked (zou's __getattr__)",
    ),
    pytest.param(
        """\
        from app import create_app, db

        db.create_all()
        app = create_app()
        """,
        "db.create_all()",
        FACTORY_APP,
        "makes its Flask app only after line",
        id="the script makes its app after the failing line",
    ),
    pytest.param(
        """\
        from app import db

        db.create_all()
        """,
        "db.create_all()",
        {"app/__init__.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n"},
        "no single Flask app",
        id="no app anywhere in the project",
    ),
    pytest.param(
        """\
        from app import db

        db.create_all()
        """,
        "db.create_all()",
        {
            "app/__init__.py": """\
                from flask import Flask
                from flask_sqlalchemy import SQLAlchemy

                db = SQLAlchemy()


                def create_app(config_name):
                    return Flask(__name__)
                """,
            "manage.py": """\
                import sys

                from app import create_app


                def main(name):
                    return create_app(name)
                """,
        },
        "no single Flask app",
        id="a factory whose only call uses a local variable",
    ),
    pytest.param(
        """\
        from app import db

        if __name__ == "__main__":
            print("main")
        else:
            db.create_all()
        """,
        "db.create_all()",
        FACTORY_APP,
        "not in the body",
        id="the else branch of the __main__ block",
    ),
    pytest.param(
        """\
        from app import create_app, db

        app = create_app()
        app.app_context().push()
        db.create_all()
        """,
        "db.create_all()",
        FACTORY_APP,
        "already runs inside an app context",
        id="a context pushed earlier in the script",
    ),
]


@pytest.mark.parametrize(("script", "failing", "files", "reason"), SKIPS)
def test_skip(script, failing, files, reason):
    with pytest.raises(SkipFix, match=reason):
        wrap_script_statement(project(script, files), SCRIPT, line_of(script, failing))


def event(*frames: Frame, message: str = "Working outside of application context.") -> Event:
    return Event(
        exceptions=(ExceptionInfo("RuntimeError", message, "builtins", frames),),
        thread_name="MainThread",
        entry=Entry(argv=("python", "-m", "scripts.seed_db")),
    )


RUNPY = Frame("<frozen runpy>", "_run_code", 88, "runpy")
SCRIPT_FRAME = Frame(SCRIPT, "<module>", 3, "__main__", context_line="db.create_all()", in_app=True)
LIBRARY = Frame("/site-packages/flask_sqlalchemy/extension.py", "create_all", 900, "x")
SEED_PROJECT = project("from app import db\n\ndb.create_all()\n")


def test_diagnoses_a_script_statement_that_calls_straight_into_a_library():
    diagnosis = ScriptModuleLevel().diagnose(event(RUNPY, SCRIPT_FRAME, LIBRARY), SEED_PROJECT)
    assert diagnosis is not None
    assert str(diagnosis.location) == f"{SCRIPT}:3"
    assert f"{SCRIPT}:3" in diagnosis.explanation
    assert "SQLAlchemy(app)" in diagnosis.explanation
    on_2x = SEED_PROJECT.with_changes({"requirements.txt": "flask-sqlalchemy==2.5.1\n"})
    diagnosis = ScriptModuleLevel().diagnose(event(RUNPY, SCRIPT_FRAME, LIBRARY), on_2x)
    assert diagnosis is not None and "Flask-SQLAlchemy 3" not in diagnosis.explanation


NOT_DIAGNOSED = [
    pytest.param(
        event(RUNPY, SCRIPT_FRAME, LIBRARY, message="Working outside of request context."),
        id="a request-context error",
    ),
    pytest.param(
        event(
            RUNPY,
            Frame(
                SCRIPT,
                "<module>",
                3,
                "scripts.seed_db",
                context_line="db.create_all()",
                in_app=True,
            ),
            LIBRARY,
        ),
        id="the module was imported, not run as __main__",
    ),
    pytest.param(
        event(
            RUNPY,
            SCRIPT_FRAME,
            Frame(
                "app/services.py",
                "seed",
                4,
                "app.services",
                context_line="db.create_all()",
                in_app=True,
            ),
            LIBRARY,
        ),
        id="the statement calls project code (CTX102)",
    ),
    pytest.param(
        event(
            RUNPY,
            Frame(SCRIPT, "<module>", 3, "__main__", context_line="db.drop_all()", in_app=True),
            LIBRARY,
        ),
        id="the line no longer reads what the event saw",
    ),
]


@pytest.mark.parametrize("failure", NOT_DIAGNOSED)
def test_not_diagnosed(failure):
    assert ScriptModuleLevel().diagnose(failure, SEED_PROJECT) is None


def test_not_diagnosed_in_a_thread():
    threaded = Event(event(RUNPY, SCRIPT_FRAME, LIBRARY).exceptions, thread_name="Thread-1")
    assert ScriptModuleLevel().diagnose(threaded, SEED_PROJECT) is None


@pytest.mark.parametrize("case", fix_cases(__file__), ids=lambda case: case.name)
def test_expected_tree_makes_the_command_pass(case, tmp_path):
    outcome = run_case(case, tmp_path / "project", fixed=True)
    assert outcome.returncode == 0, outcome.output
