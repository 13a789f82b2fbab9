"""What Flask-SQLAlchemy 2.x does that 3.x does not, for the detectors that follow a ``db``.

The detectors read 3.x's rules: every session, engine and ``Model.query`` needs an app
context, and an instance the app never registered fails. A project that declares 2.x
(``diagnose.dependencies``) runs two things 3.x refuses, both checked with 2.5.1:

- an instance given the app, ``SQLAlchemy(app)``, falls back to that app outside any context;
- an unregistered second instance runs, in an app context, on the registered one's state.
"""

from __future__ import annotations

import ast

from tracefix.diagnose.dependencies import runs_only_before
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project


@per_project
def declares_2x(project: Project) -> bool:
    """Whether the project declares Flask-SQLAlchemy 2.x: once per project, as every
    instance the detectors follow asks."""
    return runs_only_before(project, "flask-sqlalchemy", "3")


def runs_without_context(project: Project, made: ast.Call) -> bool:
    """Whether the instance the call ``made`` makes works outside any app context."""
    given_app = bool(made.args) or any(keyword.arg == "app" for keyword in made.keywords)
    return given_app and declares_2x(project)
