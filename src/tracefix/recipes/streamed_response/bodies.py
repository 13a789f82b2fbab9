"""Where a view turns a generator into a response body, read from the code (``ast``).

A generator function's call becomes a streamed body when the view hands it to ``Response``
(``flask.Response``, werkzeug's, ``app.response_class``, ``make_response``) as its first
argument, returns it (``return gen()``, ``return gen(), {"Content-Type": ...}``), or binds it to
a name it hands over or returns so. Flask runs the body only after the view has returned and
its contexts are gone, unless the call is wrapped in ``stream_with_context``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes.thread_target.spawns import VIEW_DECORATORS
from tracefix.recipes.thread_target.spawns import references
from tracefix.scan.context_use import ContextAnalysis
from tracefix.scan.context_use import Definition
from tracefix.scan.context_use import External
from tracefix.scan.context_use import Scope
from tracefix.scan.context_use import analysis

#: The callables whose first argument becomes the response body, by qualified name.
RESPONSE_CLASSES = frozenset(
    {
        "flask.Response",
        "flask.wrappers.Response",
        "flask.make_response",
        "flask.helpers.make_response",
        "werkzeug.Response",
        "werkzeug.wrappers.Response",
        "werkzeug.wrappers.response.Response",
    }
)
#: Attributes of an app that make a response from a body (``app.response_class(...)``).
RESPONSE_ATTRIBUTES = frozenset({"response_class", "make_response"})
WRAPPER = "flask.stream_with_context"
WRAPPERS = frozenset({WRAPPER, "flask.helpers.stream_with_context"})
SESSIONS = frozenset({"flask.session", "flask.globals.session"})
#: Methods that change a dict in place.
SESSION_CHANGES = frozenset({"pop", "update", "setdefault", "clear", "popitem"})
#: Decorators whose function runs in a request, but not as a view that returns a body.
NOT_VIEWS = frozenset({"after_request", "after_app_request", "teardown_request"})


@dataclass(frozen=True)
class Generator:
    """A generator function, where it is, and the top-level function it is nested in."""

    path: str
    node: ast.FunctionDef
    #: The top-level function whose body defines it, or ``None`` for a top-level one.
    enclosing: ast.FunctionDef | None


@dataclass(frozen=True)
class BodyCall:
    """A call of the generator whose result a view hands over as a response body."""

    path: str
    line: int
    #: 0-based, in characters, as LibCST counts.
    column: int
    #: The top-level function it is in.
    function: str
    #: Already inside ``stream_with_context(...)``.
    wrapped: bool


def generator_at(project: Project, path: str, name: str, line: int) -> Generator | None:
    """The generator function ``name`` of ``path`` whose body spans ``line``: top-level, or
    nested in a top-level function; ``None`` for anything else (a method, a lambda)."""
    tree = project.ast(path)
    if tree is None:
        return None
    for statement in tree.body:
        if not isinstance(statement, ast.FunctionDef):
            continue
        if statement.name == name and _spans(statement, line) and is_generator(statement):
            return Generator(path, statement, None)
        if _spans(statement, line):
            for node in _own_functions(statement):
                if node.name == name and _spans(node, line) and is_generator(node):
                    return Generator(path, node, statement)
    return None


def is_generator(function: ast.FunctionDef) -> bool:
    """Whether calling ``function`` gives a plain generator: it yields, and no decorator but
    ``copy_current_request_context`` (which pushes the context only while it is created)
    wraps it; ``@stream_with_context`` already keeps the context."""
    if any(not _copies_request(decorator) for decorator in function.decorator_list):
        return False
    return any(isinstance(node, ast.Yield | ast.YieldFrom) for node in _own_nodes(function.body))


def _copies_request(decorator: ast.expr) -> bool:
    name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", "")
    return name == "copy_current_request_context"


def body_calls(project: Project, generator: Generator) -> list[BodyCall]:
    """The calls of ``generator`` that views hand over as response bodies: from top-level
    functions, and from the methods Flask runs of class-based views (a ``MethodView``'s
    ``get``)."""
    context = analysis(project)
    if generator.enclosing is not None:
        return list(_handed_over(context, generator.path, generator.enclosing, generator))
    callers: dict[tuple[str, int], tuple[str, ast.FunctionDef]] = {}
    for reference in references(project, generator.path, generator.node.name):
        if reference.role != "call":
            continue
        if reference.function is not None:
            function = project.function(reference.path, reference.function)
        else:
            method = context.view_method_at(reference.path, reference.line)
            function = method if isinstance(method, ast.FunctionDef) else None
        if function is not None:
            callers[(reference.path, function.lineno)] = (reference.path, function)
    found: list[BodyCall] = []
    for _, (path, function) in sorted(callers.items()):
        found.extend(_handed_over(context, path, function, generator))
    return found


def generators_in(project: Project, path: str) -> list[Generator]:
    """The generator functions of ``path``: top-level, or nested in a top-level function."""
    if "yield" not in (project.source(path) or ""):
        return []
    tree = project.ast(path)
    if tree is None:
        return []
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef):
            if is_generator(statement):
                found.append(Generator(path, statement, None))
            found.extend(
                Generator(path, node, statement)
                for node in _own_functions(statement)
                if is_generator(node)
            )
    return found


def writes_session(project: Project, generator: Generator) -> bool:
    """Whether the generator changes Flask's ``session``: its cookie went out with the headers
    before the body streams."""
    context = analysis(project)
    scope = context.function_scope(generator.path, generator.node)

    def is_session(node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        target = context.qualify(node, scope)
        return isinstance(target, External) and target.name in SESSIONS

    for node in walk(generator.node):
        if isinstance(node, ast.Subscript | ast.Attribute) and isinstance(
            node.ctx, ast.Store | ast.Del
        ):
            if is_session(node.value):
                return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_CHANGES
            and is_session(node.func.value)
        ):
            return True
    return False


def handles_requests(project: Project, path: str, function: ast.FunctionDef) -> bool:
    """Whether ``function`` runs only while Flask handles a request: a view (a route, an error
    handler, a ``before_request`` hook), a view registered with ``add_url_rule``, or a helper
    every reference to which is a call from such a view."""
    if _is_view(function):
        return True
    found = references(project, path, function.name)
    if not found:
        return False
    for reference in found:
        if reference.role == "other" and _registered_as_view(
            project, reference.path, reference.line
        ):
            continue
        if reference.role != "call" or reference.function is None:
            return False
        caller = project.function(reference.path, reference.function)
        if caller is None or not _is_view(caller):
            return False
    return True


def _handed_over(
    context: ContextAnalysis, path: str, function: ast.FunctionDef, generator: Generator
) -> Iterator[BodyCall]:
    """The calls of ``generator`` in ``function`` whose result becomes a response body."""
    lines = (context.project.source(path) or "").splitlines()
    scope = context.function_scope(path, function)
    parents = {child: parent for parent in walk(function) for child in child_nodes(parent)}
    handed = _returned_names(function) | _names_handed_to_responses(context, function, scope)
    for node in walk(function):
        if not isinstance(node, ast.Call) or not _calls(context, node, scope, generator):
            continue
        parent = parents.get(node)
        wrapped = isinstance(parent, ast.Call) and _name(context, parent.func, scope) in WRAPPERS
        outer = parent if wrapped and isinstance(parent, ast.Call) else node
        if _is_body(context, outer, parents, scope, handed):
            text = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
            column = len(text.encode()[: node.col_offset].decode(errors="replace"))
            yield BodyCall(path, node.lineno, column, function.name, wrapped)


def _is_body(
    context: ContextAnalysis,
    node: ast.expr,
    parents: dict[ast.AST, ast.AST],
    scope: Scope,
    handed: set[str],
) -> bool:
    parent = parents.get(node)
    if isinstance(parent, ast.Call) and _is_response(context, parent, scope):
        first = parent.args[0] if parent.args else None
        keyword = next((k.value for k in parent.keywords if k.arg == "response"), None)
        return node is first or node is keyword
    if isinstance(parent, ast.Return):
        return True
    if isinstance(parent, ast.Tuple) and parent.elts and parent.elts[0] is node:
        return isinstance(parents.get(parent), ast.Return)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        return isinstance(target, ast.Name) and target.id in handed
    return False


def _names_handed_to_responses(
    context: ContextAnalysis, function: ast.FunctionDef, scope: Scope
) -> set[str]:
    return {
        node.args[0].id
        for node in walk(function)
        if isinstance(node, ast.Call)
        and _is_response(context, node, scope)
        and node.args
        and isinstance(node.args[0], ast.Name)
    }


def _returned_names(function: ast.FunctionDef) -> set[str]:
    found = set()
    for node in walk(function):
        if isinstance(node, ast.Return):
            value = node.value
            if isinstance(value, ast.Tuple) and value.elts:
                value = value.elts[0]
            if isinstance(value, ast.Name):
                found.add(value.id)
    return found


def _is_response(context: ContextAnalysis, call: ast.Call, scope: Scope) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in RESPONSE_ATTRIBUTES:
        return True
    return _name(context, func, scope) in RESPONSE_CLASSES


def _calls(context: ContextAnalysis, call: ast.Call, scope: Scope, generator: Generator) -> bool:
    """Whether ``call`` calls ``generator``: by its own name where it is nested, else through
    whatever name or import reaches the top-level function."""
    if generator.enclosing is not None:
        return isinstance(call.func, ast.Name) and call.func.id == generator.node.name
    target = context.qualify(call.func, scope)
    return isinstance(target, Definition) and target.node is generator.node


def _name(context: ContextAnalysis, node: ast.expr, scope: Scope) -> str | None:
    """The qualified name of what ``node`` names outside the project (``flask.Response``)."""
    target = context.qualify(node, scope)
    return target.name if isinstance(target, External) else None


def _is_view(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        func = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(func, ast.Attribute) and func.attr in VIEW_DECORATORS - NOT_VIEWS:
            return True
    return False


def _registered_as_view(project: Project, path: str, line: int) -> bool:
    tree = project.ast(path)
    if tree is None:
        return False
    return any(
        isinstance(node, ast.Call)
        and node.lineno == line
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_url_rule"
        for node in walk(tree)
    )


def _spans(function: ast.FunctionDef, line: int) -> bool:
    return function.lineno <= line <= (function.end_lineno or function.lineno)


def _own_functions(function: ast.FunctionDef) -> Iterator[ast.FunctionDef]:
    """The functions defined in ``function``'s body, at any depth of blocks."""
    for node in walk(function):
        if isinstance(node, ast.FunctionDef) and node is not function:
            yield node


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(child_nodes(node))
