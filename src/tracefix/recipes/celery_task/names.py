"""What a name in a project file refers to, followed through imports to where it is bound.

CTX105 and CTX107 both ask the same question of names read from the code alone: is this
``celery`` the one ``Celery(...)`` made, is this ``cli`` a ``FlaskGroup``, is this ``db`` a
``SQLAlchemy()``, is ``flask.current_app`` what this function reads? A name resolves either to
a library's dotted name (``flask.current_app``) or to the statement of a project file that binds
it (``app/extensions.py``, ``db``). Anything else (a parameter, a name bound at run time, a
star import) resolves to nothing, and callers treat nothing as "not sure".
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes._scopes import own_nodes

#: How many ``from x import y`` hops a name is followed through (re-exports chain rarely past 3).
MAX_HOPS = 6


@dataclass(frozen=True)
class Binding:
    """The module-level statement of a project file that binds ``name``."""

    path: str
    name: str
    statement: ast.stmt


@dataclass(frozen=True)
class ProjectModule:
    """A module of the project, bound by ``import pkg.mod`` or ``from pkg import mod``."""

    module: str


@dataclass(frozen=True)
class External:
    """A name from outside the project: ``flask.current_app``, ``celery.Celery``."""

    dotted: str


Target = Binding | ProjectModule | External


def module_statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """The statements that run when a module is imported: top level, ``if``/``try``/``with``."""
    pending: list[ast.stmt] = list(reversed(tree.body))
    while pending:
        statement = pending.pop()
        yield statement
        children: list[ast.stmt] = []
        if isinstance(statement, ast.If | ast.With):
            children = [*statement.body, *getattr(statement, "orelse", [])]
        elif isinstance(statement, ast.Try | ast.TryStar):
            children = [
                *statement.body,
                *(s for handler in statement.handlers for s in handler.body),
                *statement.orelse,
                *statement.finalbody,
            ]
        pending.extend(reversed(children))


def bound_names(statement: ast.stmt) -> list[str]:
    """The names ``statement`` binds in its own scope."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [statement.name]
    if isinstance(statement, ast.Import):
        return [alias.asname or alias.name.split(".")[0] for alias in statement.names]
    if isinstance(statement, ast.ImportFrom):
        return [alias.asname or alias.name for alias in statement.names if alias.name != "*"]
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.For | ast.AsyncFor):
        targets = [statement.target]
    elif isinstance(statement, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in statement.items if item.optional_vars]
    return [
        node.id
        for target in targets
        for node in walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    ]


def assigned_value(statement: ast.stmt, name: str) -> ast.expr | None:
    """The value ``statement`` gives ``name`` in ``name = value`` (one plain target)."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Name) and target.id == name:
            return statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        if statement.target.id == name:
            return statement.value
    return None


class Names:
    """Resolves names of one project, remembering what it has read."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._binders: dict[str, dict[str, list[ast.stmt]]] = {}
        self._module_names: dict[tuple[str, str, int], Target | None] = {}
        #: By ``id`` of the function, kept with it (an ``id`` alone may be reused).
        self._local_scopes: dict[int, tuple[ast.FunctionDef, dict[str, Target | None]]] = {}

    def resolve(
        self, path: str, node: ast.expr, local: dict[str, Target | None] | None = None
    ) -> Target | None:
        """What the name or ``a.b.c`` chain ``node`` in ``path`` refers to.

        ``local`` is the function scope around ``node``: names it binds hide module names
        (``None`` for one bound to something unknown).
        """
        if isinstance(node, ast.Name):
            if local is not None and node.id in local:
                return local[node.id]
            return self.module_name(path, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(path, node.value, local)
            if isinstance(base, External):
                return External(f"{base.dotted}.{node.attr}")
            if isinstance(base, ProjectModule):
                return self.module_attribute(base.module, node.attr)
        return None

    def module_name(self, path: str, name: str, hops: int = 0) -> Target | None:
        """What the module-level ``name`` of ``path`` is bound to last, followed through imports."""
        key = (path, name, hops)
        if key not in self._module_names:
            found: Target | None = None
            if hops <= MAX_HOPS:
                for statement in self._statements_binding(path).get(name, ()):
                    found = self._follow(path, statement, name, hops)
            self._module_names[key] = found
        return self._module_names[key]

    def _statements_binding(self, path: str) -> dict[str, list[ast.stmt]]:
        """Each module-level name of ``path`` and the statements that bind it, in order: read
        once per file (a project's scan asks of the same names hundreds of thousands of times)."""
        binders = self._binders.get(path)
        if binders is None:
            binders = self._binders[path] = {}
            tree = self.project.ast(path)
            for statement in module_statements(tree) if tree is not None else ():
                for bound in bound_names(statement):
                    binders.setdefault(bound, []).append(statement)
        return binders

    def module_attribute(self, module: str, name: str, hops: int = 0) -> Target | None:
        """What ``module.name`` is: a submodule, a name bound in the module, or external."""
        submodule = self.project.module_path(f"{module}.{name}")
        path = self.project.module_path(module)
        if path is not None:
            inside = self.module_name(path, name, hops + 1)
            if inside is not None:
                return inside
        if submodule is not None:
            return self._module_target(f"{module}.{name}")
        if path is None:
            return External(f"{module}.{name}")
        return None

    def local_scope(self, path: str, function: ast.FunctionDef) -> dict[str, Target | None]:
        """The names ``function`` binds itself: its imports resolved, everything else unknown.
        Remembered (a walk of the whole function): the Celery and click readers ask it of the
        same function for every call in it they look at. Read-only for the callers."""
        found = self._local_scopes.get(id(function))
        if found is None or found[0] is not function:
            found = self._local_scopes[id(function)] = (function, self._local_scope(path, function))
        return found[1]

    def _local_scope(self, path: str, function: ast.FunctionDef) -> dict[str, Target | None]:
        scope: dict[str, Target | None] = {}
        arguments = function.args
        for arg in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        ]:
            if arg is not None:
                scope[arg.arg] = None
        for node in own_nodes(function.body):
            if isinstance(node, ast.stmt):
                for name in bound_names(node):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        scope[name] = self._follow(path, node, name, 0)
                    else:
                        scope[name] = None
            elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                scope[node.target.id] = None
        return scope

    def _follow(self, path: str, statement: ast.stmt, name: str, hops: int) -> Target | None:
        if isinstance(statement, ast.ImportFrom):
            module = self.project.absolute_module(path, statement.module, statement.level)
            if module is None:
                return None
            for alias in statement.names:
                if (alias.asname or alias.name) == name:
                    return self.module_attribute(module, alias.name, hops + 1)
            return None
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname == name:
                    return self._module_target(alias.name)
                if alias.asname is None and alias.name.split(".")[0] == name:
                    return self._module_target(name)
            return None
        return Binding(path, name, statement)

    def _module_target(self, module: str) -> Target:
        if self.project.module_path(module) is None:
            return External(module)
        return ProjectModule(module)


def decorator_call(decorator: ast.expr) -> tuple[ast.expr, ast.Call | None]:
    """``(callee, call)`` of a decorator: ``(x.task, None)`` for ``@x.task``, and the call with
    it for ``@x.task()``."""
    if isinstance(decorator, ast.Call):
        return decorator.func, decorator
    return decorator, None


def keyword(call: ast.Call | None, name: str) -> ast.expr | None:
    if call is None:
        return None
    return next((item.value for item in call.keywords if item.arg == name), None)
