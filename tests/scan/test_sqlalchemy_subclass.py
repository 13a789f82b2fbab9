"""A ``db`` made from a project subclass of ``SQLAlchemy`` (Redash's ``RedashSQLAlchemy``, which
overrides only how engines are made) needs an app context as the extension's own instance does:
every reader of ``db`` follows it, the scripts' (CTX101), the Celery tasks' (CTX105) and the
handoffs' (CTX114). A subclass with a ``session`` of its own may not need one, and is left
alone by all of them."""

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


    class AppSQLAlchemy(SQLAlchemy):
        {body}


    app = Flask(__name__)
    db = AppSQLAlchemy()
    db.init_app(app)
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
def test_every_reader_of_db_follows_a_project_subclass(body: str, expected: set[str]) -> None:
    files = {"app.py": textwrap.dedent(APP.format(body=body)), "count.py": SCRIPT}
    project = Project(files)
    found = scan(project, ["app.py", "count.py"], all_recipes()).findings
    assert {finding.code for finding in found} == expected
