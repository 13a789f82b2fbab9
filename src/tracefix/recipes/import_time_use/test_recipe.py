"""CTX110: moving import-time uses on inline projects, the diagnosis on edge events, detect, and
the recorded cases."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Entry
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import count_findings_without_libcst
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import run_case
from tracefix.recipes.import_time_use import ImportTimeContextUse
from tracefix.recipes.import_time_use.fix import move_create_all
from tracefix.recipes.import_time_use.fix import read_config_lazily
from tracefix.recipes.import_time_use.reading import app_modules

FACTORY = textwrap.dedent("""\
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()


    def create_app(test_config=None):
        app = Flask(__name__)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        db.init_app(app)

        from app import views

        app.register_blueprint(views.bp)

        return app
    """)
VIEWS = textwrap.dedent("""\
    from flask import Blueprint

    from app.models import User

    bp = Blueprint("users", __name__)
    """)
MODELS = textwrap.dedent("""\
    from app import db


    class User(db.Model):
        id = db.Column(db.Integer, primary_key=True)


    db.create_all()
    """)


def project(files: dict[str, str] | None = None) -> Project:
    """The package ``app`` (factory, views, models) with ``files`` added or replaced; an empty
    text removes a file."""
    defaults = {"app/__init__.py": FACTORY, "app/views.py": VIEWS, "app/models.py": MODELS}
    merged = {**defaults, **(files or {})}
    return Project({path: textwrap.dedent(text) for path, text in merged.items() if text})


def line_of(source: str, text: str) -> int:
    lines = textwrap.dedent(source).splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip().startswith(text))


def fixed(before: Project, changes) -> Project:
    return before.with_changes({change.path: change.after for change in changes})


def test_create_all_moves_into_the_factory_before_its_return():
    before = project()
    changes = move_create_all(before, "app/models.py", 8, "db.create_all()")
    after = fixed(before, changes)
    assert after.source("app/models.py") == textwrap.dedent("""\
        from app import db


        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
        """)
    assert after.source("app/__init__.py") == FACTORY.replace(
        "    return app\n",
        "    with app.app_context():\n        db.create_all()\n\n    return app\n",
    )
    with pytest.raises(SkipFix, match="no longer has the line"):
        move_create_all(after, "app/models.py", 8, "db.create_all()")


def test_create_all_joins_the_factorys_own_context_block():
    factory = FACTORY.replace(
        "    return app\n",
        "    with app.app_context():\n        warm_cache()\n\n    return app\n",
    )
    before = project({"app/__init__.py": factory})
    after = fixed(before, move_create_all(before, "app/models.py", 8, "db.create_all()"))
    assert "    with app.app_context():\n        warm_cache()\n        db.create_all()\n" in (
        after.source("app/__init__.py") or ""
    )


def test_create_all_is_only_removed_when_the_factory_creates_the_tables():
    factory = FACTORY.replace(
        "    return app\n",
        "    with app.app_context():\n        db.create_all()\n\n    return app\n",
    )
    before = project({"app/__init__.py": factory})
    changes = move_create_all(before, "app/models.py", 8, "db.create_all()")
    assert [change.path for change in changes] == ["app/models.py"]


def test_create_all_follows_the_name_and_app_the_factory_uses():
    factory = """\
        from flask import Flask


        def create_app():
            application = Flask(__name__)
            from app.extensions import db as database

            database.init_app(application)
            from app import views

            return application
        """
    before = project(
        {
            "app/__init__.py": factory,
            "app/extensions.py": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n",
            "app/models.py": MODELS.replace("from app import db", "from app.extensions import db"),
        }
    )
    after = fixed(before, move_create_all(before, "app/models.py", 8, "db.create_all()"))
    assert "    with application.app_context():\n        database.create_all()\n\n" in (
        after.source("app/__init__.py") or ""
    )


HELPER_FACTORY = textwrap.dedent("""\
    from flask import Flask

    from app.extensions import db


    def create_app():
        app = Flask(__name__)
        register_extensions(app)
        from app import views

        return app


    def register_extensions(app):
        db.init_app(app)
    """)
EXTENSIONS = "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"


def test_create_all_goes_to_the_factory_that_calls_the_registering_helper():
    before = project(
        {
            "app/__init__.py": HELPER_FACTORY,
            "app/extensions.py": EXTENSIONS,
            "app/models.py": MODELS.replace("from app import db", "from app.extensions import db"),
        }
    )
    after = fixed(before, move_create_all(before, "app/models.py", 8, "db.create_all()"))
    assert (
        "    from app import views\n\n    with app.app_context():\n        db.create_all()\n"
        in (after.source("app/__init__.py") or "")
    )


def test_a_registering_helper_no_factory_calls_is_not_followed():
    before = project(
        {
            "app/__init__.py": HELPER_FACTORY.replace("    register_extensions(app)\n", ""),
            "app/extensions.py": EXTENSIONS,
            "app/cli.py": "from app import create_app, register_extensions\n\n"
            "register_extensions(create_app())\n",
            "app/models.py": MODELS.replace("from app import db", "from app.extensions import db"),
        }
    )
    with pytest.raises(SkipFix, match="no factory of that file calls"):
        move_create_all(before, "app/models.py", 8, "db.create_all()")


def test_module_level_app_gets_the_block_after_the_import_of_the_models():
    instance = """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        db = SQLAlchemy(app)

        from app import views, models  # noqa: E402
        """
    before = project({"app/__init__.py": instance})
    after = fixed(before, move_create_all(before, "app/models.py", 8, "db.create_all()"))
    assert (after.source("app/__init__.py") or "").endswith(
        "from app import views, models  # noqa: E402\n\n"
        "with app.app_context():\n    db.create_all()\n"
    )


def test_the_app_module_itself_wraps_its_statement_in_place():
    single = """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        db = SQLAlchemy(app)


        class Note(db.Model):
            id = db.Column(db.Integer, primary_key=True)


        # Tables for the demo.
        db.create_all()
        """
    before = Project({"app.py": textwrap.dedent(single)})
    changes = move_create_all(before, "app.py", 13, "db.create_all()")
    assert changes[0].after.endswith(
        "# Tables for the demo.\nwith app.app_context():\n    db.create_all()\n"
    )


def test_comments_above_the_statement_move_with_it():
    models = MODELS.replace("db.create_all()", "# One table per model.\ndb.create_all()")
    before = project({"app/models.py": models})
    after = fixed(before, move_create_all(before, "app/models.py", 9, "db.create_all()"))
    assert "    # One table per model.\n    with app.app_context():" in (
        after.source("app/__init__.py") or ""
    )


SKIPS = [
    pytest.param(
        {"app/extra.py": "from app import db, create_app\n\ndb.init_app(create_app())\n"},
        "registered in several places",
        id="db registered on two apps",
    ),
    pytest.param(
        {"app/__init__.py": FACTORY.replace("    db.init_app(app)\n", "")},
        "never registered",
        id="db never registered (CTX111's cause)",
    ),
    pytest.param(
        {
            "app/__init__.py": FACTORY.replace("from app import views", "import os"),
            "app/views.py": "",
        },
        "never imports",
        id="the factory never imports the models",
    ),
    pytest.param(
        {"app/models.py": MODELS + "db.session.commit()\n"},
        "at import time too",
        id="another import-time use follows",
    ),
    pytest.param(
        {"app/__init__.py": FACTORY.replace("    return app\n", "    return app or None\n")},
        "does not end with",
        id="the factory's return is not its app",
    ),
]


@pytest.mark.parametrize(("files", "reason"), SKIPS)
def test_create_all_skips(files, reason):
    with pytest.raises(SkipFix, match=reason):
        move_create_all(project(files), "app/models.py", 8, "db.create_all()")


MAIL = textwrap.dedent("""\
    from flask import current_app

    ADMIN = current_app.config["ADMIN_EMAIL"]


    def notify(subject):
        return send(ADMIN, subject)


    def greet(name):
        return f"Hi {name}, write to {ADMIN}"
    """)


def mail_project(text: str = MAIL, files: dict[str, str] | None = None) -> Project:
    return project(
        {"app/mail.py": text, "app/views.py": VIEWS + "from app import mail\n", **(files or {})}
    )


def test_config_constant_is_read_where_it_is_used():
    before = mail_project()
    (change,) = read_config_lazily(
        before, "app/mail.py", 3, 'ADMIN = current_app.config["ADMIN_EMAIL"]'
    )
    assert change.after == textwrap.dedent("""\
        from flask import current_app


        def notify(subject):
            return send(current_app.config["ADMIN_EMAIL"], subject)


        def greet(name):
            return f"Hi {name}, write to {current_app.config['ADMIN_EMAIL']}"
        """)


def test_config_constant_becomes_a_local_where_a_line_would_grow_too_long():
    text = MAIL.replace(
        "return send(ADMIN, subject)",
        "return send(ADMIN, subject, cc=ADMIN, reply_to=ADMIN, headers={'X-Long': 'header'})",
    )
    (change,) = read_config_lazily(mail_project(text), "app/mail.py", 3, None)
    assert (
        "def notify(subject):\n"
        '    admin = current_app.config["ADMIN_EMAIL"]\n'
        "    return send(admin, subject, cc=admin, reply_to=admin" in change.after
    )


CONFIG_SKIPS = [
    pytest.param(
        MAIL + "\nGREETING = greet('all')\n", "at import time", id="reader runs at import"
    ),
    pytest.param(MAIL + "\nprint(ADMIN)\n", "at import time too", id="read at module level"),
    pytest.param(
        MAIL + "\n\ndef reset():\n    global ADMIN\n    ADMIN = None\n", "global", id="global"
    ),
    pytest.param(
        MAIL + "\n\ndef own(ADMIN):\n    return ADMIN\n", "its own", id="a parameter shadows it"
    ),
    pytest.param(MAIL + '\n__all__ = ["ADMIN"]\n', "__all__", id="exported in __all__"),
    pytest.param(
        MAIL.replace('current_app.config["ADMIN_EMAIL"]', 'current_app.config["A"].lower()'),
        "not a top-level constant read",
        id="the value is computed",
    ),
]


@pytest.mark.parametrize(("text", "reason"), CONFIG_SKIPS)
def test_config_constant_skips(text, reason):
    with pytest.raises(SkipFix, match=reason):
        read_config_lazily(mail_project(text), "app/mail.py", 3, None)


def test_config_constant_imported_elsewhere_is_left_alone():
    before = mail_project(files={"app/report.py": "from app.mail import ADMIN\n"})
    with pytest.raises(SkipFix, match="imports `ADMIN`"):
        read_config_lazily(before, "app/mail.py", 3, None)


def test_app_modules_are_what_the_app_imports():
    files = {
        "app/mail.py": "x = 1\n",
        "app/late.py": "y = 2\n",
        "scripts/seed.py": "from app import db\n",
        "app/__init__.py": FACTORY.replace(
            "    return app\n",
            "    with app.app_context():\n        from app import late\n\n    return app\n",
        ),
    }
    modules = app_modules(project(files))
    assert modules["app/models.py"] is True
    assert modules["app/late.py"] is False
    assert "app/mail.py" not in modules
    assert "scripts/seed.py" not in modules


def detect(before: Project, path: str) -> list[tuple[str, str]]:
    return [
        (str(d.location), str(d.facts["shape"]))
        for d in ImportTimeContextUse().detect(path, before)
    ]


def test_detect_finds_each_shape_with_its_column():
    forms = """\
        from flask import current_app, g

        from app.models import User

        LIMIT = current_app.config["LIMIT"]


        class Choices:
            users = [u.id for u in User.query.all()]


        def later():
            return g.user, LIMIT
        """
    before = project({"app/forms.py": forms, "app/views.py": VIEWS + "from app import forms\n"})
    assert detect(before, "app/models.py") == [("app/models.py:8:1", "create_all")]
    assert detect(before, "app/forms.py") == [
        ("app/forms.py:5:9", "config"),
        ("app/forms.py:9:28", "other"),
    ]


def test_detect_is_silent_outside_the_apps_import_time_code():
    script = "from app import create_app, db\n\napp = create_app()\ndb.create_all()\n"
    guarded = MODELS.replace("db.create_all()", 'if __name__ == "__main__":\n    db.create_all()')
    late = FACTORY.replace(
        "from app import views", "with app.app_context():\n        from app import views"
    )
    assert detect(project({"scripts/seed.py": script}), "scripts/seed.py") == []
    assert detect(project({"app/models.py": guarded}), "app/models.py") == []
    assert detect(project({"app/__init__.py": late}), "app/models.py") == []
    assert detect(project({"tests/test_models.py": MODELS}), "tests/test_models.py") == []


def test_detect_ignores_what_does_not_touch_the_context():
    models = MODELS.replace(
        "db.create_all()",
        "db.event.listen(db.session, 'before_commit', print)\n"
        "proxy = current_app\n"
        "later = db.create_all\n",
    ).replace("from app import db", "from flask import current_app\n\nfrom app import db")
    assert detect(project({"app/models.py": models}), "app/models.py") == []


def frame(path: str, function: str, line: int, module: str, text: str) -> Frame:
    return Frame(path, function, line, module, context_line=text, in_app=True)


LIBRARY = Frame("/site-packages/flask_sqlalchemy/extension.py", "create_all", 900, "x")
WSGI = frame("wsgi.py", "<module>", 3, "wsgi", "app = create_app()")
FACTORY_FRAME = frame("app/__init__.py", "create_app", 12, "app", "from app import views")
VIEWS_FRAME = frame("app/views.py", "<module>", 3, "app.views", "from app.models import User")
MODELS_FRAME = frame("app/models.py", "<module>", 8, "app.models", "db.create_all()")


def event(
    *frames: Frame, message: str = "Working outside of application context.", thread="MainThread"
) -> Event:
    return Event(
        exceptions=(ExceptionInfo("RuntimeError", message, "builtins", frames),),
        thread_name=thread,
        entry=Entry(argv=("flask", "--app", "wsgi", "routes")),
    )


def test_diagnoses_the_import_time_statement_and_names_the_importer():
    diagnosis = ImportTimeContextUse().diagnose(
        event(WSGI, FACTORY_FRAME, VIEWS_FRAME, MODELS_FRAME, LIBRARY), project()
    )
    assert diagnosis is not None
    assert str(diagnosis.location) == "app/models.py:8"
    assert diagnosis.facts["shape"] == "create_all"
    assert "imported from app/views.py:3" in diagnosis.explanation
    assert "`create_app()` registers `db`" in diagnosis.explanation


def test_a_call_into_project_code_is_diagnosed_without_a_fix():
    models = MODELS.replace("db.create_all()", "make_tables()") + (
        "\n\ndef make_tables():\n    db.create_all()\n"
    )
    failing = event(
        WSGI,
        FACTORY_FRAME,
        VIEWS_FRAME,
        frame("app/models.py", "<module>", 8, "app.models", "make_tables()"),
        frame("app/models.py", "make_tables", 12, "app.models", "db.create_all()"),
        LIBRARY,
    )
    before = project({"app/models.py": models})
    diagnosis = ImportTimeContextUse().diagnose(failing, before)
    assert diagnosis is not None and diagnosis.facts["shape"] == "other"
    with pytest.raises(SkipFix, match="calls project code"):
        ImportTimeContextUse().fix(diagnosis, before)


NOT_DIAGNOSED = [
    pytest.param(
        event(frame("app/models.py", "<module>", 8, "__main__", "db.create_all()"), LIBRARY),
        project(),
        id="the module is the script run as __main__ (CTX101)",
    ),
    pytest.param(
        event(
            frame("scripts/seed.py", "<module>", 1, "__main__", "from scripts import helper"),
            frame("scripts/helper.py", "<module>", 3, "scripts.helper", "db.create_all()"),
            LIBRARY,
        ),
        project({"scripts/helper.py": "from app import db\n\ndb.create_all()\n"}),
        id="a helper only a script imports",
    ),
    pytest.param(
        event(
            WSGI,
            FACTORY_FRAME,
            VIEWS_FRAME,
            MODELS_FRAME,
            LIBRARY,
            message="Working outside of request context.",
        ),
        project(),
        id="a request-context error",
    ),
    pytest.param(
        event(WSGI, FACTORY_FRAME, VIEWS_FRAME, MODELS_FRAME, LIBRARY, thread="Thread-1"),
        project(),
        id="in a thread",
    ),
    pytest.param(
        event(
            WSGI,
            FACTORY_FRAME,
            VIEWS_FRAME,
            frame("app/models.py", "<module>", 8, "app.models", "db.drop_all()"),
            LIBRARY,
        ),
        project(),
        id="the line no longer reads what the event saw",
    ),
    pytest.param(
        event(WSGI, FACTORY_FRAME, VIEWS_FRAME, MODELS_FRAME),
        project(),
        id="no library frame raised it",
    ),
]


@pytest.mark.parametrize(("failure", "before"), NOT_DIAGNOSED)
def test_not_diagnosed(failure, before):
    assert ImportTimeContextUse().diagnose(failure, before) is None


def test_detect_findings_reuse_the_codemod():
    before = project()
    (finding,) = ImportTimeContextUse().detect("app/models.py", before)
    changes = ImportTimeContextUse().fix(finding, before)
    assert {change.path for change in changes} == {"app/models.py", "app/__init__.py"}


def test_detect_of_ctx110_to_ctx112_never_imports_libcst():
    """``tracefix scan`` stays on ``ast``: LibCST loads only to fix."""
    recipes = ["import_time_use", "extension_not_registered", "url_for_outside_request"]
    assert count_findings_without_libcst(recipes) > 0


@pytest.mark.parametrize("case", fix_cases(__file__), ids=lambda case: case.name)
def test_expected_tree_makes_the_command_pass(case, tmp_path):
    outcome = run_case(case, tmp_path / "project", fixed=True)
    assert outcome.returncode == 0, outcome.output
