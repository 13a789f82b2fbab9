"""Where a project refers to a function: as a thread's target, a timer's function, a task handed
to a thread pool (``executor.submit(f, ...)``, ``executor.map(f, ...)``), or otherwise.

Names are resolved the way Python binds them, from the code alone (``recipes/_scopes.py``):
module-level and function-level imports (absolute or relative, ``as`` aliases, re-exports through
a package's ``__init__``), ``module.function`` attribute chains, and local names that shadow them.
Anything this cannot follow (``self.method``, a lambda, a name bound at run time) is simply not a
reference, so callers that need every reference must treat "not found" as "not sure".
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from typing import cast

from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes._scopes import Scope
from tracefix.recipes._scopes import ScopeWalker
from tracefix.recipes._scopes import own_nodes

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
    walker = _Walker(project, path)
    walker.spawns = []
    walker.run(tree)
    return walker.spawns


def every_caller(
    project: Project, place: Reference, holds: Callable[[Reference], bool], depth: int = 3
) -> bool:
    """Whether ``holds(place)``, or ``place`` sits in a top-level function every reference to
    which is a call for which this is so, up to ``depth`` calls up (microblog's ``send_email``,
    called by the helpers its views call)."""
    if holds(place):
        return True
    if place.function is None or depth == 0:
        return False
    callers = references(project, place.path, place.function)
    return bool(callers) and all(
        caller.role == "call" and every_caller(project, caller, holds, depth - 1)
        for caller in callers
    )


def references(project: Project, path: str, name: str) -> list[Reference]:
    """Every reference, in any project file, to the top-level function ``name`` of ``path``."""
    module = project.module_name(path)
    if module is None:
        return []
    wanted = frozenset({f"{module}.{name}"})
    found: list[Reference] = []
    for file in project.python_files():
        if name not in (project.source(file) or ""):
            continue  # every way to refer to it spells its name
        tree = project.ast(file)
        if tree is not None:
            walker = _Walker(project, file, wanted)
            walker.run(tree)
            found.extend(walker.found)
    return found


def qualified_names(project: Project, path: str, function: ast.FunctionDef) -> set[str]:
    """The qualified names of what ``function``'s body reads (``flask.request``, ...)."""
    tree = project.ast(path)
    if tree is None:
        return set()
    walker = _Walker(project, path)
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
    walker = _Walker(project, path)
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


class _Walker(ScopeWalker):
    """Reports references to ``wanted`` as ``Reference``s, a thread, timer or pool start of the
    function as its role; and, when asked for (``spawns``), every start it sees."""

    def __init__(self, project: Project, path: str, wanted: frozenset[str] = frozenset()) -> None:
        super().__init__(project, path, wanted)
        self.found: list[Reference] = []
        #: Every start seen, when asked for (``spawns_in``).
        self.spawns: list[Spawn] | None = None
        #: Only a file that names the class can make a pool of its own.
        self.may_make_pools = any(
            cls.rpartition(".")[2] in (project.source(path) or "") for cls in EXECUTOR_CLASSES
        )

    def scope_of(
        self,
        body: list[ast.stmt],
        arguments: ast.arguments | None = None,
        *,
        module_level: bool = False,
        enclosing: Scope | None = None,
    ) -> Scope:
        """A name bound only to new thread pools refers to an executor instance (``INSTANCE``);
        ``enclosing`` is the scope around this one, which names the pool's class."""
        scope = super().scope_of(body, arguments, module_level=module_level)
        if self.may_make_pools:
            scope.update(self._executor_names(body, {**(enclosing or {}), **scope}))
        return scope

    def _executor_names(self, body: list[ast.stmt], scope: Scope) -> dict[str, str]:
        """The names of a scope that every binding sets to a new thread pool, with its class.

        A pool made with an ``initializer`` does not count: that may push a context in each
        worker thread."""
        made: dict[str, list[str | None]] = {}
        stores: dict[str, int] = {}
        for node in own_nodes(body):
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

    def _visit_handoff(
        self, call: ast.Call, callee: str | None, scope: Scope, function: str | None, depth: int
    ) -> ast.expr | None:
        kind = THREAD_CLASSES.get(callee or "") or self._executor_method(call, scope)
        handed = handed_function(call, kind) if kind else None
        if kind is None or handed is None:
            return None
        target = self.qualify(handed, scope)
        if self.spawns is not None:
            self.spawns.append(
                Spawn(
                    self.path,
                    call.lineno,
                    self._column(handed),
                    kind,
                    target,
                    function if depth == 1 else None,
                    depth == 0,
                )
            )
        if target is None or target not in self.wanted:
            return None
        self._report_reference(target, call, kind, function, depth)
        if kind in EXECUTOR_METHODS.values():
            assert isinstance(call.func, ast.Attribute)
            self._visit(call.func.value, scope, function, depth)
        return handed

    def _column(self, node: ast.expr) -> int:
        """``node``'s 1-based column in characters (``ast`` counts UTF-8 bytes)."""
        lines = (self.project.source(self.path) or "").splitlines()
        text = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
        return len(text.encode()[: node.col_offset].decode(errors="replace")) + 1

    def _executor_method(self, call: ast.Call, scope: Scope) -> Role | None:
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

    def _report_reference(
        self, qualified: str, node: ast.expr, role: str, function: str | None, depth: int
    ) -> None:
        scope_function = function if depth == 1 else None
        self.found.append(
            Reference(self.path, node.lineno, cast(Role, role), scope_function, depth == 0)
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
    bound = _Walker(project, path).scope_of(tree.body, module_level=True).get(name)
    return isinstance(bound, str) and is_executor(project, bound, depth + 1)


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
