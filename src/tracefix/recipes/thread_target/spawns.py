"""Where a project refers to a function: as a thread's target, a timer's function, or otherwise.

Names are resolved the way Python binds them, from the code alone: module-level and
function-level imports (absolute or relative, ``as`` aliases, re-exports through a package's
``__init__``), ``module.function`` attribute chains, and local names that shadow them. Anything
this cannot follow (``self.method``, a lambda, a name bound at run time) is simply not a
reference, so callers that need every reference must treat "not found" as "not sure".
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.project import Project

Role = Literal["thread", "timer", "call", "other"]

THREAD_CLASSES: dict[str, Role] = {"threading.Thread": "thread", "threading.Timer": "timer"}
#: Decorators, by the last part of their dotted name, that run a function in an app context.
VIEW_DECORATORS = frozenset(
    {
        "route",
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "before_request",
        "after_request",
        "teardown_request",
        "errorhandler",
        "before_app_request",
        "after_app_request",
        "app_errorhandler",
    }
)


@dataclass(frozen=True)
class Reference:
    """One place that names the function."""

    path: str
    line: int
    role: Role
    #: The top-level function the reference is in, if it sits directly in one (not a method,
    #: not a nested function); ``None`` otherwise.
    function: str | None
    #: Whether it sits at module level (outside any function or class).
    module_level: bool


def references(project: Project, path: str, name: str) -> list[Reference]:
    """Every reference, in any project file, to the top-level function ``name`` of ``path``."""
    module = project.module_name(path)
    if module is None:
        return []
    wanted = f"{module}.{name}"
    found: list[Reference] = []
    for file in project.python_files():
        tree = project.ast(file)
        if tree is not None:
            found.extend(_Walker(project, file, wanted).run(tree))
    return found


def qualified_names(project: Project, path: str, function: ast.FunctionDef) -> set[str]:
    """The qualified names of what ``function``'s body reads (``flask.request``, ...)."""
    tree = project.ast(path)
    if tree is None:
        return set()
    walker = _Walker(project, path, "")
    scope = {
        **walker.scope_of(tree.body, module_level=True),
        **walker.scope_of(function.body, function.args),
    }
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            qualified = walker.qualify(node, scope)
            if qualified:
                names.add(qualified)
    return names


def bound_name(project: Project, path: str, qualified: str, line: int) -> str | None:
    """How code at ``line`` of ``path`` can name ``qualified`` (``flask.current_app``) as
    imported there: ``current_app``, an alias, or ``flask.current_app``; ``None`` if it cannot."""
    tree = project.ast(path)
    if tree is None:
        return None
    walker = _Walker(project, path, "")
    scope = walker.scope_of(tree.body, module_level=True)
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and (
            statement.lineno <= line <= (statement.end_lineno or statement.lineno)
        ):
            scope = {**scope, **walker.scope_of(statement.body, statement.args)}
    module, _, attribute = qualified.rpartition(".")
    for name, value in reversed(scope.items()):
        if value == qualified:
            return name
    for name, value in reversed(scope.items()):
        if value == module:
            return f"{name}.{attribute}"
    return None


def is_view(function: ast.FunctionDef) -> bool:
    """Whether Flask runs ``function`` inside a request: a route, a request hook, a CLI command.

    ``@app.cli.command()`` counts: Flask's ``AppGroup.command`` wraps it in ``with_appcontext``.
    """
    for decorator in function.decorator_list:
        func = decorator.func if isinstance(decorator, ast.Call) else decorator
        if not isinstance(func, ast.Attribute):
            continue
        if func.attr in VIEW_DECORATORS:
            return True
        if func.attr == "command" and isinstance(func.value, ast.Attribute):
            if func.value.attr == "cli":
                return True
    return False


class _Walker:
    """Walks one file, resolving names scope by scope, and reports references to ``wanted``."""

    def __init__(self, project: Project, path: str, wanted: str) -> None:
        self.project = project
        self.path = path
        self.wanted = wanted
        self.module = project.module_name(path) or ""
        self.found: list[Reference] = []

    def run(self, tree: ast.Module) -> list[Reference]:
        scope = self.scope_of(tree.body, module_level=True)
        for statement in tree.body:
            self._visit(statement, scope, function=None, depth=0)
        return self.found

    def scope_of(
        self,
        body: list[ast.stmt],
        arguments: ast.arguments | None = None,
        *,
        module_level: bool = False,
    ) -> dict[str, str | None]:
        """What each name bound in a scope refers to: a qualified name, or ``None`` (unknown)."""
        scope: dict[str, str | None] = {}
        if arguments is not None:
            for arg in _all_arguments(arguments):
                scope[arg] = None
        for node in _own_nodes(body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        scope[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        scope[top] = top
            elif isinstance(node, ast.ImportFrom):
                source = self.project.absolute_module(self.path, node.module, node.level)
                for alias in node.names:
                    if alias.name != "*":
                        bound = alias.asname or alias.name
                        scope[bound] = f"{source}.{alias.name}" if source else None
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                scope[node.name] = f"{self.module}.{node.name}" if module_level else None
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                scope[node.id] = None
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    scope.pop(name, None)
        return scope

    def qualify(self, node: ast.expr, scope: dict[str, str | None]) -> str | None:
        """The canonical qualified name ``node`` refers to, or ``None``."""
        if isinstance(node, ast.Name):
            qualified = scope.get(node.id)
        elif isinstance(node, ast.Attribute):
            base = self.qualify(node.value, scope)
            qualified = f"{base}.{node.attr}" if base else None
        else:
            return None
        return _canonical(self.project, qualified) if qualified else None

    def _visit(
        self, node: ast.AST, scope: dict[str, str | None], function: str | None, depth: int
    ) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self._visit(default, scope, function, depth)
            if not isinstance(node, ast.Lambda):
                for decorator in node.decorator_list:
                    self._visit(decorator, scope, function, depth)
            body: list[ast.stmt] = (
                [ast.Expr(node.body)] if isinstance(node, ast.Lambda) else node.body
            )
            inner = {**scope, **self.scope_of(body, node.args)}
            name = None if isinstance(node, ast.Lambda) or depth else node.name
            for statement in body:
                self._visit(statement, inner, name, depth + 1)
            return
        if isinstance(node, ast.ClassDef):
            for child in [*node.bases, *node.keywords, *node.decorator_list]:
                self._visit(child, scope, function, depth)
            inner = {**scope, **self.scope_of(node.body)}
            for statement in node.body:
                self._visit(statement, inner, None, depth + 1)
            return
        if isinstance(node, ast.Call):
            self._visit_call(node, scope, function, depth)
            return
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            if self.qualify(node, scope) == self.wanted:
                self._report(node, "other", function, depth)
                return
        for child in ast.iter_child_nodes(node):
            self._visit(child, scope, function, depth)

    def _visit_call(
        self, call: ast.Call, scope: dict[str, str | None], function: str | None, depth: int
    ) -> None:
        callee = self.qualify(call.func, scope)
        kind = THREAD_CLASSES.get(callee or "")
        handed = _handed_function(call, kind) if kind else None
        if kind and handed is not None and self.qualify(handed, scope) == self.wanted:
            self._report(call, kind, function, depth)
        else:
            handed = None
            if callee == self.wanted:
                self._report(call, "call", function, depth)
            else:
                self._visit(call.func, scope, function, depth)
        for child in [*call.args, *call.keywords]:
            value = child.value if isinstance(child, ast.keyword) else child
            if value is not handed:
                self._visit(value, scope, function, depth)

    def _report(self, node: ast.expr, role: Role, function: str | None, depth: int) -> None:
        self.found.append(
            Reference(self.path, node.lineno, role, function if depth == 1 else None, depth == 0)
        )


def _handed_function(call: ast.Call, kind: str) -> ast.expr | None:
    """The callable a ``Thread(...)`` or ``Timer(...)`` call will run."""
    keyword = "target" if kind == "thread" else "function"
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return call.args[1] if len(call.args) > 1 else None


def _canonical(project: Project, qualified: str, depth: int = 0) -> str:
    """``qualified`` with re-exports followed: ``pkg.send`` is ``pkg.mail.send`` when ``pkg``
    re-exports it."""
    if depth > 5:
        return qualified
    module, _, name = qualified.rpartition(".")
    if not module or project.module_path(qualified) is not None:
        return qualified
    path = project.module_path(module)
    if path is None:
        return qualified
    tree = project.ast(path)
    if tree is None:
        return qualified
    origin = qualified
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = project.absolute_module(path, node.module, node.level)
            for alias in node.names:
                if (alias.asname or alias.name) == name and source:
                    origin = _canonical(project, f"{source}.{alias.name}", depth + 1)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                origin = qualified
    return origin


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of a scope's body, not descending into nested functions, classes or lambdas.

    The nested definitions themselves are yielded (their names bind in this scope), and so are
    their decorators and default values, which run in this scope.
    """
    pending: list[ast.AST] = list(reversed(body))
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        pending.extend(reversed(list(ast.iter_child_nodes(node))))


def _all_arguments(arguments: ast.arguments) -> Iterator[str]:
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        yield arg.arg
    for star in (arguments.vararg, arguments.kwarg):
        if star is not None:
            yield star.arg
