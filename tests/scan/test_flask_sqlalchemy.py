"""How the detectors that follow a Flask-SQLAlchemy ``db`` read the project's set-up: the scripts'
(CTX101), the Celery tasks' (CTX105), import time's (CTX110) and the handoffs' (CTX114).

A project on Flask-SQLAlchemy 2.x whose ``db`` was given the app, ``SQLAlchemy(app)``: 2.x falls
back to that app outside any context (checked with 2.5.1), so nothing is found there; the same
code on 3.x, or a 2.x ``db`` registered by ``init_app``, fails and is found.

A ``db`` made from a project subclass of ``SQLAlchemy`` (Redash's ``RedashSQLAlchemy``, which
overrides only how engines are made) is followed by all of them; a subclass with a ``session``
of its own may not need a context, and is left alone."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.diagnose.project import Project
from tracefix.recipes import all_recipes
from tracefix.scan.engine import scan

APP = """\
    import atexit

    from celery import Celery
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db = SQLAlchemy(app)
    celery = Celery(__name__)


    class User(db.Model):
        id = db.Column(db.Integer, primary_key=True)


    @celery.task
    def count_users():
        return db.session.query(User).count()


    def flush_on_exit():
        db.session.commit()


    atexit.register(flush_on_exit)
    """
SCRIPT = "from app import User\n\nprint(User.query.count())\n"
#: ``db.create_all()`` on import: CTX110 (and the script then fails on import, not at its use).
CREATING = APP.replace(
    "register(flush_on_exit)\n", "register(flush_on_exit)\n    db.create_all()\n"
)
REGISTERED = APP.replace("db = SQLAlchemy(app)", "db = SQLAlchemy()\n    db.init_app(app)")
SUBCLASSED = REGISTERED.replace(
    "db = SQLAlchemy()",
    "\n    class AppSQLAlchemy(SQLAlchemy):\n        {body}\n\n\n    db = AppSQLAlchemy()",
)


def codes(app: str, requirements: str) -> set[str]:
    files = {"app.py": textwrap.dedent(app), "count.py": SCRIPT, "requirements.txt": requirements}
    project = Project(files)
    return {
        finding.code for finding in scan(project, ["app.py", "count.py"], all_recipes()).findings
    }


@pytest.mark.parametrize(
    ("app", "requirements", "expected"),
    [
        (APP, "flask-sqlalchemy==3.1.1\n", {"CTX101", "CTX105", "CTX114"}),
        (APP, "", {"CTX101", "CTX105", "CTX114"}),
        (APP, "flask-sqlalchemy==2.5.1\n", set()),
        (REGISTERED, "flask-sqlalchemy==2.5.1\n", {"CTX101", "CTX105", "CTX114"}),
        (CREATING, "flask-sqlalchemy==3.1.1\n", {"CTX105", "CTX110", "CTX114"}),
        (CREATING, "flask-sqlalchemy==2.5.1\n", set()),
    ],
    ids=[
        "3.x",
        "undeclared",
        "2.x given the app",
        "2.x registered by init_app",
        "3.x, tables created on import",
        "2.x given the app, tables created on import",
    ],
)
def test_what_needs_a_context_follows_the_declared_version(app, requirements, expected):
    assert codes(app, requirements) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "def apply_pool_defaults(self, app, options):\n            return options",
            {"CTX101", "CTX105", "CTX114"},
        ),
        ("session = None", set()),
    ],
    ids=["a subclass that leaves the session alone", "a subclass with a session of its own"],
)
def test_every_reader_of_db_follows_a_project_subclass(body, expected):
    assert codes(SUBCLASSED.format(body=body), "") == expected


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # microblog's app/models.py: listening on the session reads none of it.
        ("db.event.listen(db.session, 'before_commit', print)", {"CTX101", "CTX105", "CTX114"}),
        ("registry = db.session", {"CTX101", "CTX105", "CTX114"}),
        ("dropping = db.drop_all", {"CTX101", "CTX105", "CTX114"}),
        ("db.session()", {"CTX105", "CTX110", "CTX114"}),
        ("db.session.get_bind()", {"CTX105", "CTX110", "CTX114"}),
        ("engine = db.engine", {"CTX105", "CTX110", "CTX114"}),
        ("db.drop_all()", {"CTX105", "CTX110", "CTX114"}),
    ],
)
def test_the_session_handed_over_on_import_needs_no_context(statement, expected):
    """Only what runs the session (a call, an attribute of it) needs a context at import; the
    script that imports the app then fails at its own use, CTX101."""
    hook = "atexit.register(flush_on_exit)\n"
    assert codes(REGISTERED.replace(hook, f"{hook}    {statement}\n"), "") == expected


#: flask-realworld-example-app's set-up: the models' base is a name for ``db.Model``, made from
#: a ``model_class`` whose methods (``save``) use the session.
MODEL_CLASS_PROJECT = {
    "conduit/__init__.py": "",
    "conduit/extensions.py": """\
        from flask_sqlalchemy import SQLAlchemy
        from flask_sqlalchemy.model import Model


        class CRUDMixin(Model):
            def save(self):
                db.session.add(self)
                db.session.commit()
                return self


        db = SQLAlchemy(model_class=CRUDMixin)
        """,
    "conduit/database.py": "from conduit.extensions import db\n\nModel = db.Model\n",
    "conduit/models.py": """\
        from conduit.database import Model, db


        class User(Model):
            id = db.Column(db.Integer, primary_key=True)
        """,
    "count.py": "from conduit.models import User\n\nprint(User.query.count())\n",
    "create.py": "from conduit.models import User\n\nUser().save()\n",
    "manage.py": """\
        import click

        from conduit.models import User


        @click.command()
        def create():
            User().save()


        if __name__ == "__main__":
            create()
        """,
}


def test_models_on_a_name_for_db_model_and_their_model_class_methods_are_followed():
    files = {path: textwrap.dedent(text) for path, text in MODEL_CLASS_PROJECT.items()}
    found = scan(Project(files), ["count.py", "create.py", "manage.py"], all_recipes()).findings
    assert [(f.code, f.path, f.line) for f in found] == [
        ("CTX101", "count.py", 3),
        ("CTX102", "create.py", 3),
        ("CTX107", "manage.py", 8),
    ]
    (command,) = [f for f in found if f.code == "CTX107"]
    assert "uses `User().save()`, which reaches `db.session` (conduit/extensions.py:7)" in (
        command.message
    )


def test_a_model_base_annotated_as_it_is_named_is_followed():
    """Lemur's ``BaseModel: DefaultMeta = db.Model``."""
    files = {
        "lemur/__init__.py": "",
        "lemur/database.py": (
            "from flask_sqlalchemy import SQLAlchemy\nfrom flask_sqlalchemy.model import "
            "DefaultMeta\n\ndb = SQLAlchemy()\nBaseModel: DefaultMeta = db.Model\n"
        ),
        "lemur/models.py": (
            "from lemur.database import BaseModel, db\n\n\nclass Certificate(BaseModel):\n"
            "    id = db.Column(db.Integer, primary_key=True)\n"
        ),
        "list_certs.py": "from lemur.models import Certificate\n\nprint(Certificate.query.all())\n",
    }
    found = scan(Project(files), ["list_certs.py"], all_recipes()).findings
    assert [(f.code, f.line) for f in found] == [("CTX101", 3)]


#: cookiecutter-flask's ``database.py``: the models' class and instance methods use the session.
CRUD_PROJECT = {
    "app/__init__.py": "",
    "app/database.py": """\
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        class CRUDMixin:
            @classmethod
            def create(cls, **kwargs):
                instance = cls(**kwargs)
                return instance.save()

            def save(self, commit=True):
                db.session.add(self)
                if commit:
                    db.session.commit()
                return self


        class Model(CRUDMixin, db.Model):
            __abstract__ = True
        """,
    "app/models.py": """\
        from app.database import Model, db


        class User(Model):
            id = db.Column(db.Integer, primary_key=True)
        """,
    "seed.py": "from app.models import User\n\nUser.create(id=1)\n",
}


def test_class_and_instance_methods_are_followed_through_cls_and_self():
    files = {path: textwrap.dedent(text) for path, text in CRUD_PROJECT.items()}
    (finding,) = scan(Project(files), ["seed.py"], all_recipes()).findings
    assert (finding.code, finding.line) == ("CTX102", 3)
    assert "`User.create()`, which reaches `db.session` (app/database.py:13)" in finding.message
