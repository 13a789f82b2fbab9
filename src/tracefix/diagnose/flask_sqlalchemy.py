"""What the detectors that follow a Flask-SQLAlchemy ``db`` know of the extension: its class,
what an instance does only in an app context, and what 2.x does that 3.x does not.

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

#: The extension's class, by the names it is defined and exported under.
EXTENSION_CLASSES = frozenset(
    {"flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy"}
)
#: What an instance does only in an app context (3.x: each reads the app's engines or session;
#: ``get_engine`` is 3.0's, deprecated). ``metadatas`` is no such thing: a plain attribute.
#: The properties fail when read; the methods when called. ``session`` is a plain attribute,
#: a ``scoped_session`` that fails when called or when anything of it is read (``.add``),
#: not when it is only handed over (``event.listen(db.session, ...)``).
CONTEXT_PROPERTIES = frozenset({"engine", "engines"})
CONTEXT_METHODS = frozenset(
    {
        "create_all",
        "drop_all",
        "reflect",
        "get_engine",
        "paginate",
        "get_or_404",
        "first_or_404",
        "one_or_404",
    }
)
CONTEXT_ATTRIBUTES = CONTEXT_PROPERTIES | CONTEXT_METHODS | {"session"}


@per_project
def declares_2x(project: Project) -> bool:
    """Whether the project declares Flask-SQLAlchemy 2.x: once per project, as every
    instance the detectors follow asks."""
    return runs_only_before(project, "flask-sqlalchemy", "3")


def runs_without_context(project: Project, made: ast.Call) -> bool:
    """Whether the instance the call ``made`` makes works outside any app context."""
    given_app = bool(made.args) or any(keyword.arg == "app" for keyword in made.keywords)
    return given_app and declares_2x(project)
