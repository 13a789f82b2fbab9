"""The CTX101-CTX104 detectors on small projects: what fails, where, and what is left alone."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.diagnose.project import Project
from tracefix.recipes import all_recipes
from tracefix.scan.engine import scan

APP = {
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            return app
        """,
    "app/models.py": """\
        from app import db


        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
        """,
    "app/services.py": """\
        from flask import current_app

        from app import db


        def count_users():
            return db.session.scalar(db.select(db.func.count()))


        def report():
            title = current_app.config["TITLE"]
            return title, count_users()
        """,
}


#: ``app/__init__.py`` with ``db`` made from a subclass of ``SQLAlchemy``, as Redash makes it.
SUBCLASSED = """\
from flask import Flask
from flask_sqlalchemy import SQLAlchemy


class AppSQLAlchemy(SQLAlchemy):
    {body}


db = AppSQLAlchemy(session_options={{"expire_on_commit": False}})


def create_app():
    app = Flask(__name__)
    db.init_app(app)
    return app
"""


#: zou's ``_project_role()``: ``g`` read where a handler may catch its ``RuntimeError``.
GUARDED = """\
from flask import g


def role():
    try:
        return g.get("project_role")
    except {caught}:
        return None
"""


#: flasky's mail: a ``Mail()`` registered by the factory, a message sent from a thread.
MAIL = {
    "app/mail.py": """\
        from flask_mail import Mail

        mail = Mail()
        """,
    "app/email.py": """\
        from threading import Thread

        from flask import current_app
        from flask_mail import Message

        from app.mail import mail


        def send_async_email(app, msg):
            {body}


        def send_email(to, subject):
            app = current_app._get_current_object()
            thread = Thread(target=send_async_email, args=[app, Message(subject, recipients=[to])])
            thread.start()
            return thread
        """,
}


def findings(files: dict[str, str]) -> set[tuple[str, str, int]]:
    project = Project({p: textwrap.dedent(t) for p, t in {**APP, **files}.items()})
    chosen = [p for p in project.python_files() if p in files]
    recipes = [r for r in all_recipes() if r.code in ("CTX101", "CTX102", "CTX103", "CTX104")]
    return {(f.code, f.path, f.line) for f in scan(project, chosen, recipes).findings}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"tools/report.py": "from app.services import report\n\nprint(report())\n"},
            {("CTX102", "tools/report.py", 3)},
            id="script calls project code two calls deep",
        ),
        pytest.param(
            {"tools/a.py": "from app.models import User\n\nrows = User.query.all()\n"},
            {("CTX101", "tools/a.py", 3)},
            id="Model.query at top level",
        ),
        pytest.param(
            {
                "app/__init__.py": SUBCLASSED.format(
                    body="def apply_pool_defaults(self, app, options):\n        return options"
                ),
                "tools/a.py": "from app.models import User\n\nrows = User.query.all()\n",
            },
            {("CTX101", "tools/a.py", 3)},
            id="the instance is of a project subclass of SQLAlchemy",
        ),
        pytest.param(
            {
                "app/__init__.py": SUBCLASSED.format(body="session = None"),
                "tools/a.py": "from app import db\n\nrows = db.session.execute(1)\n",
            },
            set(),
            id="a subclass that makes its own session is left alone",
        ),
        pytest.param(
            {
                "migrations/versions/5770674184de_.py": """\
                    revision = "5770674184de"
                    down_revision = "ce547319f7be"

                    from app import db

                    session = db.session()
                    """,
            },
            set(),
            id="an Alembic revision file runs under flask db, even without importing alembic",
        ),
        pytest.param(
            {"tools/purge.py": "from app import db\n\nrevision = 2\nsession = db.session()\n"},
            {("CTX101", "tools/purge.py", 4)},
            id="a script with a revision number of its own is still a script",
        ),
        pytest.param(
            {"wsgi.py": "from app import create_app, db\n\napp = create_app()\ndb.create_all()\n"},
            set(),
            id="a server's entry module fails on import: another cause",
        ),
        pytest.param(
            {
                "run.py": """\
                    from app import create_app, db

                    app = create_app()
                    app.app_context().push()
                    db.create_all()
                    """
            },
            set(),
            id="a pushed context covers what follows",
        ),
        pytest.param(
            {
                "app/audit.py": """\
                    from flask import current_app, has_app_context, has_request_context, request


                    def log(message):
                        if current_app:
                            current_app.logger.info(message)
                        if has_app_context() and current_app.debug:
                            print(message)
                        name = current_app and current_app.name
                        path = request.path if has_request_context() else None
                        return name, path


                    def debug_only():
                        if not has_app_context():
                            return None
                        return current_app.debug


                    def always():
                        if current_app is not None:  # a proxy is never None
                            return current_app.name
                    """,
                "tools/audit.py": """\
                    from app.audit import always, debug_only, log

                    log("start")
                    debug_only()
                    always()
                    """,
            },
            {("CTX102", "tools/audit.py", 5)},
            id="what a test for a context guards runs only inside one",
        ),
        pytest.param(
            {"tools/links.py": "from flask import url_for\n\nprint(url_for('index'))\n"},
            set(),
            id="url_for outside a request is another cause",
        ),
        pytest.param(
            {
                "tools/seed.py": """\
                    import click

                    from app import db


                    @click.command()
                    def seed():
                        db.session.commit()


                    if __name__ == "__main__":
                        seed()
                    """
            },
            set(),
            id="a click command runs through click: another cause",
        ),
        pytest.param(
            {
                "app/mail.py": """\
                    import threading

                    from flask import request

                    from app import db


                    def log(ip):
                        db.session.add(ip)


                    def audit():
                        db.session.add(request.remote_addr)


                    def start():
                        threading.Thread(target=log, args=("x",)).start()
                        threading.Timer(1.0, audit).start()
                    """
            },
            {("CTX103", "app/mail.py", 9)},
            id="thread target; the request read first is another cause",
        ),
        pytest.param(
            {
                "tests/conftest.py": """\
                    import pytest

                    from app import create_app


                    @pytest.fixture
                    def app():
                        app = create_app()
                        with app.app_context():
                            yield app


                    @pytest.fixture
                    def plain():
                        return create_app()
                    """,
                "tests/test_users.py": """\
                    import pytest

                    from app.services import count_users


                    def test_without(plain):
                        assert count_users() == 0


                    def test_with(app):
                        assert count_users() == 0


                    @pytest.mark.usefixtures("app")
                    def test_marked():
                        assert count_users() == 0
                    """,
            },
            {("CTX104", "tests/test_users.py", 7)},
            id="tests: only the one no fixture gives a context",
        ),
        pytest.param(
            {
                "tests/__init__.py": "",
                "tests/fixtures/__init__.py": "",
                "tests/fixtures/app.py": """\
                    import pytest

                    from app import create_app


                    @pytest.fixture(scope="package", autouse=True)
                    def application():
                        app = create_app()
                        ctx = app.app_context()
                        ctx.push()
                        yield app
                        ctx.pop()
                    """,
                "tests/conftest.py": "from tests.fixtures.app import *  # noqa\n",
                "tests/test_users.py": """\
                    from app.services import count_users


                    def test_count():
                        assert count_users() == 0
                    """,
            },
            set(),
            id="tests: an autouse fixture star-imported into the conftest",
        ),
        pytest.param(
            {
                "tests/__init__.py": "",
                "tests/helpers.py": """\
                    import pytest

                    from app import create_app


                    @pytest.fixture
                    def app_ctx():
                        with create_app().app_context():
                            yield
                    """,
                "tests/conftest.py": "from .helpers import app_ctx  # noqa: F401\n",
                "tests/test_users.py": """\
                    from app.services import count_users


                    def test_with(app_ctx):
                        assert count_users() == 0


                    def test_without():
                        assert count_users() == 0
                    """,
            },
            {("CTX104", "tests/test_users.py", 9)},
            id="tests: a fixture imported by name into the conftest",
        ),
        pytest.param(
            {
                "app/roles.py": GUARDED.format(caught="RuntimeError"),
                "tools/roles.py": "from app.roles import role\n\nprint(role())\n",
            },
            set(),
            id="a use in a try whose handler catches RuntimeError (zou's guards)",
        ),
        pytest.param(
            {
                "app/roles.py": GUARDED.format(caught="(KeyError, Exception)"),
                "tools/roles.py": "from app.roles import role\n\nprint(role())\n",
            },
            set(),
            id="a handler that catches Exception catches it too",
        ),
        pytest.param(
            {
                "app/roles.py": GUARDED.format(caught="KeyError"),
                "tools/roles.py": "from app.roles import role\n\nprint(role())\n",
            },
            {("CTX102", "tools/roles.py", 3)},
            id="a handler that does not catch RuntimeError",
        ),
    ],
)
def test_detectors(files, expected):
    assert findings(files) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("mail.send(msg)", {("CTX103", "app/email.py", 10)}),
        ("mail.send_message(subject='hi', recipients=msg)", {("CTX103", "app/email.py", 10)}),
        ("with app.app_context():\n                mail.send(msg)", set()),
        ("print(mail.state)", set()),
    ],
    ids=["send", "send_message", "sent in the app's context", "no sending"],
)
def test_flask_mail_sends_in_an_app_context(body, expected):
    files = {**MAIL, "app/email.py": MAIL["app/email.py"].replace("{body}", body)}
    assert findings(files) == expected


def test_a_test_requesting_a_fixture_the_project_does_not_define_is_left_alone():
    """ckan's fixtures come from a plugin it registers through an entry point: one of them,
    ``with_request_context``, pushes the context the tests use."""
    files = {
        "tests/test_x.py": """\
            import pytest

            from app.services import count_users


            @pytest.mark.usefixtures("with_request_context")
            def test_marked():
                assert count_users() == 0


            def test_builtin_only(monkeypatch, tmp_path):
                assert count_users() == 0
            """,
    }
    assert findings(files) == {("CTX104", "tests/test_x.py", 12)}


def test_a_project_on_pytest_flask_is_left_to_its_fixtures():
    files = {
        "requirements.txt": "pytest-flask\n",
        "tests/test_x.py": "from app.services import count_users as c\n\ndef test_x():\n    c()\n",
    }
    assert findings(files) == set()
