"""Where a function's own body uses what only a Flask app context provides, from its code alone.

``detect`` (``tracefix scan``) has no traceback to say that a Celery task or a Click command
needs a context, so it looks for the uses that are certain to need one: Flask's ``current_app``,
``g``, ``url_for`` and the template functions, and Flask-SQLAlchemy's ``db.session``,
``db.engine``, ``db.create_all()``... and ``Model.query``, where ``db`` is a ``SQLAlchemy()`` the
project makes and ``Model`` one of its models. A call into project code counts when the
scripts' reading (``scan.context_use``) finds that the code it runs needs the context
(``User(...).save()``, whose method uses ``db.session``), as it would in a script.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tracefix.diagnose.flask_sqlalchemy import CONTEXT_ATTRIBUTES
from tracefix.diagnose.flask_sqlalchemy import runs_without_context
from tracefix.diagnose.project import Project
from tracefix.recipes._scopes import own_nodes
from tracefix.recipes.celery_task.names import Binding
from tracefix.recipes.celery_task.names import External
from tracefix.recipes.celery_task.names import Names
from tracefix.recipes.celery_task.names import Target
from tracefix.recipes.celery_task.names import assigned_value
from tracefix.scan.context_use import analysis

#: Flask names that raise "Working outside of application context" when used without one.
FLASK_APP_CONTEXT_NAMES = frozenset(
    {
        "flask.current_app",
        "flask.g",
        "flask.url_for",
        "flask.render_template",
        "flask.render_template_string",
        "flask.stream_template",
        "flask.jsonify",
        "flask.globals.current_app",
        "flask.globals.g",
    }
)
#: Flask names that need a request, which an app context alone does not give.
FLASK_REQUEST_NAMES = frozenset(
    {
        "flask.request",
        "flask.session",
        "flask.flash",
        "flask.get_flashed_messages",
        "flask.globals.request",
        "flask.globals.session",
        "flask_login.current_user",
    }
)


@dataclass(frozen=True)
class ContextUse:
    """One use of an app-context-only feature: where, and what it is (``db.session``)."""

    line: int
    column: int
    text: str
    #: For a call of project code: the use inside it, and where (``db.session`` (a.py:9)).
    reaches: str | None = None

    def describe(self) -> str:
        """``db.session``, or ``user.save()``, which reaches ``db.session`` (app/models.py:9)."""
        return f"`{self.text}`" + (f", which reaches {self.reaches}" if self.reaches else "")


class ContextUses:
    """Finds app-context uses in a project's functions, remembering what it resolved."""

    def __init__(self, project: Project, names: Names | None = None) -> None:
        self.project = project
        self.names = names or Names(project)
        self._sqlalchemy: dict[tuple[str, str], bool] = {}
        self._models: dict[tuple[str, str], bool] = {}

    def first(self, path: str, function: ast.FunctionDef) -> ContextUse | None:
        """The first app-context use in ``function``'s own body, or in the project code it
        calls (``User(...).save()``, whose method uses ``db.session``), or ``None``."""
        uses = self.all(path, function)
        reading = analysis(self.project)
        reached = reading.first_use(function.body, reading.function_scope(path, function))
        if reached is not None and reached.kind == "app" and reached.inner is not None:
            deepest = reached.deepest
            reaches = f"`{deepest.what}` ({deepest.path}:{deepest.line})"
            uses.append(ContextUse(reached.line, reached.column, reached.what, reaches))
        return min(uses, key=lambda use: (use.line, use.column)) if uses else None

    def all(self, path: str, function: ast.FunctionDef) -> list[ContextUse]:
        local = self.names.local_scope(path, function)
        found: list[ContextUse] = []
        for node in own_nodes(function.body):
            if not isinstance(node, ast.Name | ast.Attribute):
                continue
            if not isinstance(node.ctx, ast.Load):
                continue
            what = self._needs_context(path, node, local)
            if what is not None:
                found.append(ContextUse(node.lineno, node.col_offset + 1, what))
        return sorted(found, key=lambda use: (use.line, use.column))

    def reads_request(self, path: str, function: ast.FunctionDef) -> list[str]:
        """The request-only names ``function`` reads (``request``, ``session``...), sorted."""
        local = self.names.local_scope(path, function)
        found = set()
        for node in own_nodes(function.body):
            if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
                target = self.names.resolve(path, node, local)
                if isinstance(target, External) and target.dotted in FLASK_REQUEST_NAMES:
                    found.add(target.dotted.rsplit(".", 1)[-1])
        return sorted(found)

    def _needs_context(
        self, path: str, node: ast.Name | ast.Attribute, local: dict[str, Target | None]
    ) -> str | None:
        target = self.names.resolve(path, node, local)
        if isinstance(target, External) and target.dotted in FLASK_APP_CONTEXT_NAMES:
            return ast.unparse(node)
        if not isinstance(node, ast.Attribute):
            return None
        owner = self.names.resolve(path, node.value, local)
        if not isinstance(owner, Binding):
            return None
        if node.attr in CONTEXT_ATTRIBUTES and self.is_sqlalchemy(owner):
            return ast.unparse(node)
        if node.attr == "query" and self.is_model(owner):
            return ast.unparse(node)
        return None

    def is_sqlalchemy(self, binding: Binding) -> bool:
        """Whether ``binding`` is ``name = SQLAlchemy(...)``, needing an app context (on
        Flask-SQLAlchemy 2.x, one given the app does not)."""
        key = (binding.path, binding.name)
        if key not in self._sqlalchemy:
            value = assigned_value(binding.statement, binding.name)
            self._sqlalchemy[key] = (
                isinstance(value, ast.Call)
                and self._makes_sqlalchemy(binding.path, value.func)
                and not runs_without_context(self.project, value)
            )
        return self._sqlalchemy[key]

    def is_model(self, binding: Binding, depth: int = 0) -> bool:
        """Whether ``binding`` is a class built on a Flask-SQLAlchemy ``db.Model``."""
        key = (binding.path, binding.name)
        if key in self._models:
            return self._models[key]
        self._models[key] = False
        statement = binding.statement
        result = False
        if isinstance(statement, ast.ClassDef) and depth < 5:
            for base in statement.bases:
                if isinstance(base, ast.Attribute) and base.attr == "Model":
                    owner = self.names.resolve(binding.path, base.value)
                    if isinstance(owner, Binding) and self.is_sqlalchemy(owner):
                        result = True
                else:
                    parent = self.names.resolve(binding.path, base)
                    if isinstance(parent, Binding) and self.is_model(parent, depth + 1):
                        result = True
        self._models[key] = result
        return result

    def _makes_sqlalchemy(self, path: str, node: ast.expr) -> bool:
        """Whether calling ``node`` makes a ``SQLAlchemy`` instance: the class, or a project
        class built on it as the scan's analysis reads one (Redash's)."""
        target = self.names.resolve(path, node)
        if isinstance(target, External):
            return analysis(self.project).is_sqlalchemy_class_named(target.dotted)
        if not isinstance(target, Binding) or not isinstance(target.statement, ast.ClassDef):
            return False
        module = self.project.module_name(target.path)
        return module is not None and analysis(self.project).is_sqlalchemy_class_named(
            f"{module}.{target.name}"
        )
