"""Where a project refers to a function: as a thread's target, a timer's function, a task handed
to a thread pool (``executor.submit(f, ...)``, ``executor.map(f, ...)``), or otherwise.

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

from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project

Role = Literal["thread", "timer", "submit", "map", "call", "other"]

THREAD_CLASSES: dict[str, Role] = {"threading.Thread": "thread", "threading.Timer": "timer"}
THREAD_CLASS_NAMES = {"thread": "Thread", "timer": "Timer"}
#: The position of ``args`` in ``Thread(group, target, name, args, kwargs)`` and
#: ``Timer(interval, function, args, kwargs)``; ``kwargs`` follows it.
ARGS_INDEX = {"thread": 3, "timer": 2}
#: Executors whose tasks run in plain worker threads, which start without Flask's contexts.
#: Not ``ProcessPoolExecutor`` (another process: the app cannot be handed over) and not
#: Flask-Executor's ``Executor`` (it pushes a context around each task itself).
EXECUTOR_CLASSES = frozenset(
    {"concurrent.futures.ThreadPoolExecutor", "concurrent.futures.thread.ThreadPoolExecutor"}
)
EXECUTOR_METHODS: dict[str, Role] = {"submit": "submit", "map": "map"}
#: Appended to an executor class's qualified name, it stands for an instance of that class: what
#: a name bound by ``pool = ThreadPoolExecutor()`` or ``with ThreadPoolExecutor() as pool:``
#: refers to.
INSTANCE = "()"
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


@dataclass(frozen=True)
class Spawn:
    """One place that starts a thread, a timer or a pool task, and what it runs."""

    path: str
    line: int
    #: 1-based column of the callable handed over.
    column: int
    role: Role
    #: The qualified name of the callable handed over (``shop.mail.send``), if it resolves.
    target: str | None
    function: str | None
    module_level: bool


def spawns_in(project: Project, path: str) -> list[Spawn]:
    """Every thread, timer and pool task ``path`` starts."""
    tree = project.ast(path)
    if tree is None:
        return []
    walker = _Walker(project, path, "")
    walker.spawns = []
    walker.run(tree)
    return walker.spawns


def references(project: Project, path: str, name: str) -> list[Reference]:
    """Every reference, in any project file, to the top-level function ``name`` of ``path``."""
    module = project.module_name(path)
    if module is None:
        return []
    wanted = f"{module}.{name}"
    found: list[Reference] = []
    for file in project.python_files():
        if name not in (project.source(file) or ""):
            continue  # every way to refer to it spells its name
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
    for node in walk(function):
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
        #: Every start seen, when asked for (``spawns_in``).
        self.spawns: list[Spawn] | None = None
        #: Only a file that names the class can make a pool of its own.
        self.may_make_pools = any(
            cls.rpartition(".")[2] in (project.source(path) or "") for cls in EXECUTOR_CLASSES
        )

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
        enclosing: dict[str, str | None] | None = None,
    ) -> dict[str, str | None]:
        """What each name bound in a scope refers to: a qualified name, or ``None`` (unknown).

        A name bound only to new thread pools refers to an executor instance (``INSTANCE``);
        ``enclosing`` is the scope around this one, which names the pool's class.
        """
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
        if self.may_make_pools:
            scope.update(self._executor_names(body, {**(enclosing or {}), **scope}))
        return scope

    def _executor_names(self, body: list[ast.stmt], scope: dict[str, str | None]) -> dict[str, str]:
        """The names of a scope that every binding sets to a new thread pool, with its class.

        A pool made with an ``initializer`` does not count: that may push a context in each
        worker thread."""
        made: dict[str, list[str | None]] = {}
        stores: dict[str, int] = {}
        for node in _own_nodes(body):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                stores[node.id] = stores.get(node.id, 0) + 1
            for target, value in _bindings(node):
                if isinstance(value, ast.Call):
                    pushes = any(keyword.arg == "initializer" for keyword in value.keywords)
                    made.setdefault(target, []).append(
                        None if pushes else self.qualify(value.func, scope)
                    )
        return {
            name: f"{classes[0]}{INSTANCE}"
            for name, classes in made.items()
            if len(classes) == stores.get(name, 0)
            and len(set(classes)) == 1
            and classes[0] in EXECUTOR_CLASSES
        }

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
            inner = {**scope, **self.scope_of(body, node.args, enclosing=scope)}
            name = None if isinstance(node, ast.Lambda) or depth else node.name
            for statement in body:
                self._visit(statement, inner, name, depth + 1)
            return
        if isinstance(node, ast.ClassDef):
            for child in [*node.bases, *node.keywords, *node.decorator_list]:
                self._visit(child, scope, function, depth)
            inner = {**scope, **self.scope_of(node.body, enclosing=scope)}
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
        for child in child_nodes(node):
            self._visit(child, scope, function, depth)

    def _visit_call(
        self, call: ast.Call, scope: dict[str, str | None], function: str | None, depth: int
    ) -> None:
        callee = self.qualify(call.func, scope)
        kind = THREAD_CLASSES.get(callee or "") or self._executor_method(call, scope)
        handed = handed_function(call, kind) if kind else None
        if kind and handed is not None and self.spawns is not None:
            self.spawns.append(
                Spawn(
                    self.path,
                    call.lineno,
                    self._column(handed),
                    kind,
                    self.qualify(handed, scope),
                    function if depth == 1 else None,
                    depth == 0,
                )
            )
        if kind and handed is not None and self.qualify(handed, scope) == self.wanted:
            self._report(call, kind, function, depth)
            if kind in EXECUTOR_METHODS.values():
                assert isinstance(call.func, ast.Attribute)
                self._visit(call.func.value, scope, function, depth)
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

    def _column(self, node: ast.expr) -> int:
        """``node``'s 1-based column in characters (``ast`` counts UTF-8 bytes)."""
        lines = (self.project.source(self.path) or "").splitlines()
        text = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
        return len(text.encode()[: node.col_offset].decode(errors="replace")) + 1

    def _executor_method(self, call: ast.Call, scope: dict[str, str | None]) -> Role | None:
        """``submit`` or ``map`` when ``call`` hands a task to a thread pool, else ``None``."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in EXECUTOR_METHODS:
            return None
        pool = func.value
        if isinstance(pool, ast.Call):
            made = self.qualify(pool.func, scope)
            return EXECUTOR_METHODS[func.attr] if made in EXECUTOR_CLASSES else None
        qualified = self.qualify(pool, scope)
        if qualified is not None and is_executor(self.project, qualified):
            return EXECUTOR_METHODS[func.attr]
        return None

    def _report(self, node: ast.expr, role: Role, function: str | None, depth: int) -> None:
        self.found.append(
            Reference(self.path, node.lineno, role, function if depth == 1 else None, depth == 0)
        )


def is_executor(project: Project, qualified: str, depth: int = 0) -> bool:
    """Whether ``qualified`` names a thread pool: an instance, or a module-level name of a
    project module that every binding sets to a new one (``app.extensions.executor``)."""
    module, _, name = qualified.rpartition(".")
    if qualified.endswith(INSTANCE):
        return qualified.removesuffix(INSTANCE) in EXECUTOR_CLASSES
    path = project.module_path(module) if module else None
    tree = project.ast(path) if path else None
    if path is None or tree is None or depth > 5:
        return False
    bound = _Walker(project, path, "").scope_of(tree.body, module_level=True).get(name)
    return bound is not None and is_executor(project, bound, depth + 1)


def _bindings(node: ast.AST) -> list[tuple[str, ast.expr]]:
    """``(name, value)`` for a plain name an assignment or a ``with ... as`` binds."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return [(target.id, node.value)] if isinstance(target, ast.Name) else []
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return [(node.target.id, node.value)] if isinstance(node.target, ast.Name) else []
    if isinstance(node, ast.With | ast.AsyncWith):
        return [
            (item.optional_vars.id, item.context_expr)
            for item in node.items
            if isinstance(item.optional_vars, ast.Name)
        ]
    return []


def handed_function(call: ast.Call, kind: str) -> ast.expr | None:
    """The callable a ``Thread(...)`` or ``Timer(...)`` call, or a pool's ``submit`` or
    ``map``, will run."""
    if kind in EXECUTOR_METHODS.values():
        first = call.args[0] if call.args else None
        return None if isinstance(first, ast.Starred) else first
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
        pending.extend(reversed(child_nodes(node)))


def _all_arguments(arguments: ast.arguments) -> Iterator[str]:
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        yield arg.arg
    for star in (arguments.vararg, arguments.kwarg):
        if star is not None:
            yield star.arg
