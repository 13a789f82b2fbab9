"""CTX111: registering the one instance on inline projects, which instance an event used, detect,
and the recorded cases."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import run_case
from tracefix.recipes.extension_not_registered import ExtensionNotRegistered
from tracefix.recipes.extension_not_registered import instances_used
from tracefix.recipes.extension_not_registered.fix import add_init_app
from tracefix.recipes.extension_not_registered.fix import share_instance
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import Instance
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import instances
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import registrations

MESSAGE = (
    "The current Flask app is not registered with this 'SQLAlchemy' instance. Did you forget "
    "to call 'init_app', or did you create multiple 'SQLAlchemy' instances?"
)
EXTENSIONS = textwrap.dedent("""\
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()
    """)
FACTORY = textwrap.dedent("""\
    from flask import Flask

    from app.extensions import db


    def create_app(config_name="default"):
        app = Flask(__name__)
        app.config.from_object(f"app.settings.{config_name}")
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        login.init_app(app)

        return app
    """)
MODELS = textwrap.dedent("""\
    from app.extensions import db


    class User(db.Model):
        id = db.Column(db.Integer, primary_key=True)
    """)


def project(files: dict[str, str] | None = None) -> Project:
    defaults = {
        "app/__init__.py": FACTORY,
        "app/extensions.py": EXTENSIONS,
        "app/models.py": MODELS,
    }
    merged = {**defaults, **(files or {})}
    return Project({path: text for path, text in merged.items() if text})


def instance(before: Project, path: str) -> Instance:
    return next(i for i in instances(before) if i.path == path)


def test_init_app_joins_the_other_extensions_after_the_config():
    before = project()
    (change,) = add_init_app(before, instance(before, "app/extensions.py"))
    assert change.path == "app/__init__.py"
    assert (
        '    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"\n'
        "    login.init_app(app)\n"
        "    db.init_app(app)\n" in change.after
    )
    after = before.with_changes({change.path: change.after})
    assert registrations(after, instance(after, "app/extensions.py"))
    with pytest.raises(SkipFix, match="registered already"):
        add_init_app(after, instance(after, "app/extensions.py"))


def test_init_app_goes_before_the_first_use_of_db():
    factory = FACTORY.replace(
        "    login.init_app(app)\n",
        "    login.init_app(app)\n    migrate.init_app(app, db)\n    mail.init_app(app)\n",
    )
    before = project({"app/__init__.py": factory})
    (change,) = add_init_app(before, instance(before, "app/extensions.py"))
    assert "    login.init_app(app)\n    db.init_app(app)\n    migrate.init_app(app, db)\n" in (
        change.after
    )


def test_init_app_imports_the_instance_where_the_factory_lacks_it():
    factory = FACTORY.replace("\nfrom app.extensions import db\n", "").replace(
        "    login.init_app(app)\n", ""
    )
    before = project({"app/__init__.py": factory})
    (change,) = add_init_app(before, instance(before, "app/extensions.py"))
    assert change.after.startswith(
        "from flask import Flask\n\nfrom app.extensions import db\n\n\ndef create_app("
    )
    assert '"sqlite://"\n    db.init_app(app)\n\n    return app\n' in change.after


def test_init_app_follows_the_factorys_own_import_of_the_instance():
    factory = textwrap.dedent("""\
        from flask import Flask


        def create_app():
            app = Flask(__name__)
            app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
            from app.extensions import db

            return app
        """)
    before = project({"app/__init__.py": factory})
    (change,) = add_init_app(before, instance(before, "app/extensions.py"))
    assert "    from app.extensions import db\n    db.init_app(app)\n\n    return app\n" in (
        change.after
    )


def test_init_app_after_a_module_level_app_and_its_config():
    single = textwrap.dedent("""\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        db = SQLAlchemy()


        class Note(db.Model):
            id = db.Column(db.Integer, primary_key=True)
        """)
    before = Project({"app.py": single})
    (change,) = add_init_app(before, instance(before, "app.py"))
    assert "db = SQLAlchemy()\ndb.init_app(app)\n\n\nclass Note" in change.after


def test_init_app_after_a_compound_config_statement_is_set_apart():
    factory = FACTORY.replace(
        '    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"\n    login.init_app(app)\n',
        "    if config_name == 'test':\n        app.config['TESTING'] = True\n    make_dirs()\n",
    )
    before = project({"app/__init__.py": factory})
    (change,) = add_init_app(before, instance(before, "app/extensions.py"))
    assert "        app.config['TESTING'] = True\n\n    db.init_app(app)\n    make_dirs()\n" in (
        change.after
    )


INIT_APP_SKIPS = [
    pytest.param(
        {
            "app/__init__.py": FACTORY.replace(
                "    login.init_app(app)\n", "    app.db = db\n"
            ).replace('    app.config["SQLALCHEMY', '    app.db = db\n    app.config["SQLALCHEMY')
        },
        "before the app's configuration",
        id="db used before the config is complete",
    ),
    pytest.param(
        {"app/other.py": "from flask import Flask\n\n\ndef make():\n    return Flask(__name__)\n"},
        "no single Flask app",
        id="two factories",
    ),
    pytest.param(
        {
            "app/__init__.py": FACTORY.replace("from app.extensions import db\n", ""),
            "app/extensions.py": EXTENSIONS + "from app import create_app\n",
        },
        "run in a circle",
        id="the instance's module imports the factory's",
    ),
]


@pytest.mark.parametrize(("files", "reason"), INIT_APP_SKIPS)
def test_init_app_skips(files, reason):
    before = project(files)
    with pytest.raises(SkipFix, match=reason):
        add_init_app(before, instance(before, "app/extensions.py"))


SECOND = textwrap.dedent("""\
    \"\"\"The shop's models.\"\"\"

    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import func

    db = SQLAlchemy()


    class Order(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        created = db.Column(db.DateTime, server_default=func.now())
    """)
REGISTERED = FACTORY.replace("    login.init_app(app)\n", "    db.init_app(app)\n")


def shared_project(second: str = SECOND, files: dict[str, str] | None = None) -> Project:
    return project({"app/__init__.py": REGISTERED, "app/models.py": second, **(files or {})})


def test_second_instance_becomes_an_import_of_the_registered_one():
    before = shared_project()
    (change,) = share_instance(
        before, instance(before, "app/models.py"), instance(before, "app/extensions.py")
    )
    assert change.after == textwrap.dedent("""\
        \"\"\"The shop's models.\"\"\"

        from sqlalchemy import func

        from app.extensions import db


        class Order(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            created = db.Column(db.DateTime, server_default=func.now())
        """)


def test_second_instance_under_another_name_keeps_its_name_and_joins_an_import_line():
    second = textwrap.dedent("""\
        from flask_sqlalchemy import SQLAlchemy

        from app.extensions import migrate

        database = SQLAlchemy()
        """)
    before = shared_project(second)
    (change,) = share_instance(
        before, instance(before, "app/models.py"), instance(before, "app/extensions.py")
    )
    assert change.after == "from app.extensions import migrate, db as database\n"


SHARE_SKIPS = [
    pytest.param(
        SECOND.replace(
            "db = SQLAlchemy()", "db = SQLAlchemy(session_options={'autoflush': False})"
        ),
        {},
        "other arguments",
        id="configured differently",
    ),
    pytest.param(
        SECOND,
        {"app/extensions.py": "from app.models import Order\n" + EXTENSIONS},
        "run in a circle",
        id="the registered one's module imports the second's first",
    ),
    pytest.param(
        SECOND,
        {"app/cli.py": "from app.models import db\n\n\ndef setup(app):\n    db.init_app(app)\n"},
        "registered on an app too",
        id="the second one is registered somewhere",
    ),
]


@pytest.mark.parametrize(("second", "files", "reason"), SHARE_SKIPS)
def test_share_skips(second, files, reason):
    before = shared_project(second, files)
    with pytest.raises(SkipFix, match=reason):
        share_instance(
            before, instance(before, "app/models.py"), instance(before, "app/extensions.py")
        )


def test_the_sqlalchemy_import_stays_when_the_file_still_uses_it():
    second = SECOND + "\n\nclass Base(SQLAlchemy):\n    pass\n"
    before = shared_project(second)
    (change,) = share_instance(
        before, instance(before, "app/models.py"), instance(before, "app/extensions.py")
    )
    assert "from flask_sqlalchemy import SQLAlchemy\n" in change.after


VIEW = textwrap.dedent("""\
    from app.extensions import db
    from app.models import User


    def count():
        with current_app.app_context():
            return db.session.query(User).count()


    def first():
        return User.query.first()
    """)


def test_instances_used_follow_names_and_model_bases():
    before = project({"app/views.py": VIEW})
    (used,) = instances_used(before, "app/views.py", 7)
    assert used.key == ("app/extensions.py", "db")
    (used,) = instances_used(before, "app/views.py", 11)
    assert used.key == ("app/extensions.py", "db")
    assert instances_used(before, "app/views.py", 6) == []


def event(path: str, line: int, text: str, message: str = MESSAGE) -> Event:
    frames = (
        Frame(path, "count", line, "app.views", context_line=text, in_app=True),
        Frame("/site-packages/flask_sqlalchemy/extension.py", "engines", 690, "x"),
    )
    return Event(exceptions=(ExceptionInfo("RuntimeError", message, "builtins", frames),))


def test_diagnoses_a_missing_init_app():
    failing = event("app/views.py", 11, "return User.query.first()")
    diagnosis = ExtensionNotRegistered().diagnose(failing, project({"app/views.py": VIEW}))
    assert diagnosis is not None
    assert diagnosis.facts["kind"] == "missing_init_app"
    assert "`create_app()`" in diagnosis.explanation


def test_a_registered_instance_means_another_app():
    failing = event("app/views.py", 11, "return User.query.first()")
    before = project({"app/views.py": VIEW, "app/__init__.py": REGISTERED})
    diagnosis = ExtensionNotRegistered().diagnose(failing, before)
    assert diagnosis is not None and diagnosis.facts["kind"] == "other_app"
    with pytest.raises(SkipFix, match="another app"):
        ExtensionNotRegistered().fix(diagnosis, before)


def test_several_unregistered_instances_are_unclear():
    before = project(
        {
            "app/views.py": VIEW,
            "app/cache.py": "from flask_sqlalchemy import SQLAlchemy\n\nstore = SQLAlchemy()\n",
        }
    )
    diagnosis = ExtensionNotRegistered().diagnose(
        event("app/views.py", 11, "return User.query.first()"), before
    )
    assert diagnosis is not None and diagnosis.facts["kind"] == "unclear"
    with pytest.raises(SkipFix, match="unclear"):
        ExtensionNotRegistered().fix(diagnosis, before)


NOT_DIAGNOSED = [
    pytest.param(
        event(
            "app/views.py",
            11,
            "return User.query.first()",
            "Working outside of application context.",
        ),
        id="a context error",
    ),
    pytest.param(
        event(
            "app/views.py",
            11,
            "return User.query.first()",
            "A 'SQLAlchemy' instance has already been registered on this Flask app.",
        ),
        id="the symmetric error of two registrations",
    ),
    pytest.param(event("lib/elsewhere.py", 3, "x()"), id="the failing file is not the project's"),
]


@pytest.mark.parametrize("failure", NOT_DIAGNOSED)
def test_not_diagnosed(failure):
    assert ExtensionNotRegistered().diagnose(failure, project({"app/views.py": VIEW})) is None


def test_detect_finds_the_unregistered_instance_and_its_fix():
    before = project()
    (finding,) = ExtensionNotRegistered().detect("app/extensions.py", before)
    assert str(finding.location) == "app/extensions.py:3:1"
    assert finding.facts["kind"] == "missing_init_app"
    (change,) = ExtensionNotRegistered().fix(finding, before)
    assert "    db.init_app(app)\n" in change.after


def test_detect_finds_a_second_instance():
    before = shared_project()
    (finding,) = ExtensionNotRegistered().detect("app/models.py", before)
    assert finding.facts["kind"] == "second_instance"
    assert list(ExtensionNotRegistered().detect("app/extensions.py", before)) == []


@pytest.mark.parametrize(
    ("declaration", "reported"),
    [
        ({"requirements.txt": "flask-sqlalchemy==2.5.1 \\\n    --hash=sha256:00\n"}, False),
        ({"pyproject.toml": '[project]\ndependencies = ["Flask-SQLAlchemy>=2.4,<3"]\n'}, False),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nflask-sqlalchemy = "^2.5"\n'}, False),
        ({"requirements.txt": "flask-sqlalchemy==3.1.1\n"}, True),
        ({"requirements.in": "flask-sqlalchemy\n"}, True),
        ({}, True),
    ],
)
def test_a_second_instance_is_reported_unless_the_project_runs_flask_sqlalchemy_2(
    declaration, reported
):
    """Flask-SQLAlchemy 2.x runs a second instance in an app context on the registered one's
    state (checked with 2.5.1: its session queries the app's database), so it is no failure
    there; a missing registration still is."""
    before = shared_project(files=declaration)
    found = list(ExtensionNotRegistered().detect("app/models.py", before))
    assert [finding.facts["kind"] for finding in found] == (["second_instance"] if reported else [])
    unregistered = project(declaration)
    (finding,) = ExtensionNotRegistered().detect("app/extensions.py", unregistered)
    assert finding.facts["kind"] == "missing_init_app"


def test_detect_is_silent_for_tests_and_unused_instances():
    test_instance = {
        "tests/conftest.py": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"
    }
    before = project({"app/__init__.py": REGISTERED, **test_instance})
    assert list(ExtensionNotRegistered().detect("tests/conftest.py", before)) == []
    unused = project(
        {"app/models.py": "", "app/extensions.py": EXTENSIONS.replace("db =", "cache =")}
    )
    assert list(ExtensionNotRegistered().detect("app/extensions.py", unused)) == []


@pytest.mark.parametrize("case", fix_cases(__file__), ids=lambda case: case.name)
def test_expected_tree_makes_the_command_pass(case, tmp_path):
    outcome = run_case(case, tmp_path / "project", fixed=True)
    assert outcome.returncode == 0, outcome.output
