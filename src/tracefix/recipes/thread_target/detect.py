"""CTX103's static check: a function the project starts as a thread or a timer, whose body
needs an app context it cannot have (a new thread starts with none).

The starts are ``threading.Thread(target=f)`` and ``threading.Timer(interval, f)`` anywhere in
the project, however ``threading`` is imported; ``f`` is a top-level function of a project file,
named or imported where the start is. The finding is at the first place the target fails, as
``diagnose`` reports it from a traceback. A target that pushes its own context, or reads the
request (``request``, ``session``: a request-context failure) before it needs the app, is
another story and stays silent.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.project import Project
from tracefix.recipes._base import Recipe
from tracefix.recipes.thread_target.handed import is_request_function
from tracefix.scan.context_use import ContextAnalysis
from tracefix.scan.context_use import Definition
from tracefix.scan.context_use import External
from tracefix.scan.context_use import NamingLines
from tracefix.scan.context_use import Scope
from tracefix.scan.context_use import Use
from tracefix.scan.context_use import analysis

THREAD_CLASSES = {"threading.Thread": "thread", "threading.Timer": "timer"}


@dataclass(frozen=True)
class Start:
    """A ``Thread(...)`` or ``Timer(...)`` call that hands a project function over: by its
    name, or (``handed``) through a lambda calling it or a ``functools.partial`` of it."""

    path: str
    line: int
    kind: str
    target: Definition
    #: For a lambda or a partial started in a route or request hook: its 1-based column, where
    #: the fix wraps it (``handed.py``). Those started elsewhere are not kept.
    handed: int | None = None


def thread_target_failures(recipe: Recipe, path: str, project: Project) -> Iterator[Diagnosis]:
    context = analysis(project)
    starts_by_target: dict[int, list[Start]] = {}
    for start in _starts_by_file(context, handed=False).get(path, ()):
        starts_by_target.setdefault(id(start.target.node), []).append(start)
    for start in _starts_by_file(context, handed=True).get(path, ()):
        assert start.handed is not None
        use = _needs_app(context, start.target)
        if use is not None:
            yield recipe.diagnosis(
                f"the thread started at {path}:{start.line} runs "
                f"{start.target.name}(), where {use.describe()} ({start.target.path}:"
                f"{use.line}) needs an app context, and a new thread starts without one",
                Location(path, start.line, start.handed),
                handed={"path": path, "line": start.line, "kind": start.kind},
            )
    for starts in starts_by_target.values():
        function = starts[0].target.node
        assert isinstance(function, ast.FunctionDef)
        use = _needs_app(context, starts[0].target)
        if use is None:
            continue
        kind = "timer" if all(start.kind == "timer" for start in starts) else "thread"
        places = ", ".join(f"{start.path}:{start.line}" for start in starts)
        yield recipe.diagnosis(
            f"{use.describe()} needs an app context, but {function.name}() runs in a {kind} "
            f"started at {places}, and a new thread starts without one",
            Location(path, use.line, use.column),
            target={"path": path, "function": function.name, "line": function.lineno},
            starts=[{"path": s.path, "line": s.line, "kind": s.kind} for s in starts],
        )


def _needs_app(context: ContextAnalysis, target: Definition) -> Use | None:
    """Where ``target``'s body first needs an app context, unless it pushes one itself."""
    from tracefix.recipes.thread_target import pushes_context

    function = target.node
    assert isinstance(function, ast.FunctionDef)
    if pushes_context(function):
        return None
    use = context.first_use(function.body, context.function_scope(target.path, function))
    return use if use is not None and use.kind == "app" else None


def thread_starts(context: ContextAnalysis) -> list[Start]:
    """Every start of a project function as a thread or timer, found once per project."""

    def compute() -> list[Start]:
        found: list[Start] = []
        for path in context.python_files:
            text = context.project.source(path) or ""
            if "Thread" not in text and "Timer" not in text:
                continue
            tree = context.project.ast(path)
            if tree is not None:
                importing = NamingLines.of(text, ["import"])
                found.extend(
                    _starts_in(context, path, tree.body, Scope(path), importing, module_level=True)
                )
        return found

    return context.remember("thread_target.starts", compute)


def _starts_by_file(context: ContextAnalysis, *, handed: bool) -> dict[str, list[Start]]:
    """``thread_starts`` by the file a finding about them is in, each file's in the same
    order: a target's file for a function handed over by name, the start's own for a lambda or
    a partial (``handed``). Every file's check asks for its own, and looking through them all
    each time added up."""

    def compute() -> dict[str, list[Start]]:
        found: dict[str, list[Start]] = {}
        for start in thread_starts(context):
            if (start.handed is not None) == handed:
                file = start.path if handed else start.target.path
                found.setdefault(file, []).append(start)
        return found

    return context.remember(("thread_target.starts_by_file", handed), compute)


def _starts_in(
    context: ContextAnalysis,
    path: str,
    body: list[ast.stmt],
    scope: Scope | _FunctionScope,
    importing: NamingLines,
    *,
    module_level: bool = False,
    in_request: bool = False,
) -> Iterator[Start]:
    """The starts in ``body``; ``in_request``: it is a route's or request hook's own body.
    ``importing``: the lines of the file that spell ``import``."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            request = module_level and is_request_function(node)
            inner: Scope | _FunctionScope = (
                context.function_scope(path, node)
                if importing.may_name_in(node)
                else _FunctionScope(node)
            )
            yield from _starts_in(context, path, node.body, inner, importing, in_request=request)
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Call):
            start = _start(context, path, node, scope, in_request)
            if start is not None:
                yield start
        pending.extend(child_nodes(node))


@dataclass(frozen=True)
class _FunctionScope:
    """The scope of a function that imports nothing itself, not worked out yet: a name in it
    is what it is at module level, or nothing (a parameter, a local). So a call that is no
    start in the module's scope is none in the function's, and the function's scope (a walk
    of its body) is needed only for a call that is one there."""

    function: ast.FunctionDef | ast.AsyncFunctionDef


def _start(
    context: ContextAnalysis,
    path: str,
    call: ast.Call,
    scope: Scope | _FunctionScope,
    in_request: bool,
) -> Start | None:
    if isinstance(scope, _FunctionScope):
        callee = context.qualify(call.func, Scope(path))
        if getattr(callee, "name", "") not in THREAD_CLASSES:
            return None
        scope = context.function_scope(path, scope.function)
    callee = context.qualify(call.func, scope)
    kind = THREAD_CLASSES.get(getattr(callee, "name", ""))
    if kind is None:
        return None
    keyword = "target" if kind == "thread" else "function"
    handed = next((k.value for k in call.keywords if k.arg == keyword), None)
    if handed is None and len(call.args) > 1:
        handed = call.args[1]
    if handed is None:
        return None
    column = None
    named = handed
    if in_request and isinstance(handed, ast.Lambda) and isinstance(handed.body, ast.Call):
        named, column = handed.body.func, handed.col_offset + 1
    elif in_request and isinstance(handed, ast.Call) and handed.args:
        partial = context.qualify(handed.func, scope)
        if isinstance(partial, External) and partial.name == "functools.partial":
            named, column = handed.args[0], handed.col_offset + 1
    target = context.qualify(named, scope)
    if (
        isinstance(target, Definition)
        and isinstance(target.node, ast.FunctionDef)
        and "." not in target.name
    ):
        return Start(path, call.lineno, kind, target, column)
    return None
