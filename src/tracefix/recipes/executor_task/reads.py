"""What a function another thread runs reads from Flask's contexts, found from the code alone:
the request's globals, and what needs the app context. CTX106 and CTX108 ask it, on ``ast``.

What needs the app context is ``scan.context_use``'s answer, shared with every static check;
the request's globals are resolved as ``thread_target/spawns.py`` resolves names, as CTX103 does
to refuse a target that reads them.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator

from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes.thread_target.spawns import Spawn
from tracefix.recipes.thread_target.spawns import qualified_names
from tracefix.recipes.thread_target.spawns import spawns_in
from tracefix.scan.context_use import ContextAnalysis
from tracefix.scan.context_use import External
from tracefix.scan.context_use import Scope
from tracefix.scan.context_use import Use

#: The request's globals, by qualified name, with the name the user knows them by. An app
#: context does not bring them back: ``g`` is new in each app context.
REQUEST_GLOBALS = {
    "flask.request": "request",
    "flask.session": "session",
    "flask.g": "g",
    "flask.globals.request": "request",
    "flask.globals.session": "session",
    "flask.globals.g": "g",
    "flask_login.current_user": "current_user",
    "flask_login.utils.current_user": "current_user",
}
#: Words a file that starts threads must contain, and a pool's method call.
THREAD_WORDS = ("Thread", "Timer")
POOL_CALL = re.compile(r"\.(?:submit|map)\(")
POOL_CLASS = "ThreadPoolExecutor"


def request_reads(project: Project, path: str, function: ast.FunctionDef) -> list[str]:
    """The request globals ``function``'s body reads, sorted: ``["current_user", "request"]``."""
    found = qualified_names(project, path, function)
    return sorted({short for name, short in REQUEST_GLOBALS.items() if name in found})


def first_request_read(
    context: ContextAnalysis, path: str, function: ast.FunctionDef
) -> Use | None:
    """The first read, in source order, of a request global in ``function``'s own body."""
    scope = context.function_scope(path, function)
    reads = sorted(
        (node.lineno, node.col_offset, node)
        for node in _own_loads(function)
        if _request_global(context, node, scope) is not None
    )
    if not reads:
        return None
    line, offset, node = reads[0]
    what = REQUEST_GLOBALS.get(_request_global(context, node, scope) or "", "request")
    return Use(path, line, context.column(path, line, offset), "request", what)


def app_use_besides_request(
    context: ContextAnalysis, path: str, function: ast.FunctionDef
) -> Use | None:
    """The first use in ``function`` that needs an app context once what it reads from the
    request's globals is handed to it as plain values (``g`` included: it is the request's)."""
    scope = context.function_scope(path, function)
    body = [_Unrequested(context, scope).visit(copy.deepcopy(s)) for s in function.body]
    return context.first_use(body, scope)


def project_spawns(context: ContextAnalysis) -> list[Spawn]:
    """Every thread, timer and pool task the project starts, found once per analysis."""

    def compute() -> list[Spawn]:
        texts = {path: context.project.source(path) or "" for path in context.python_files}
        pools = any(POOL_CLASS in text for text in texts.values())
        found: list[Spawn] = []
        for path, text in texts.items():
            if any(word in text for word in THREAD_WORDS) or (pools and POOL_CALL.search(text)):
                found.extend(spawns_in(context.project, path))
        return found

    return context.remember("executor_task.spawns", compute)


def _request_global(context: ContextAnalysis, node: ast.expr, scope: Scope) -> str | None:
    if not isinstance(node, ast.Name | ast.Attribute):
        return None
    target = context.qualify(node, scope)
    if isinstance(target, External) and target.name in REQUEST_GLOBALS:
        return target.name
    return None


def _own_loads(function: ast.FunctionDef) -> Iterator[ast.expr]:
    """The names and attributes ``function``'s body reads, nested functions included."""
    for node in walk(function):
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            yield node


class _Unrequested(ast.NodeTransformer):
    """Replaces each read of a request global (``g`` too) by a constant."""

    def __init__(self, context: ContextAnalysis, scope: Scope) -> None:
        self.context = context
        self.scope = scope

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._replaced(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        replaced = self._replaced(node)
        return self.generic_visit(replaced) if replaced is node else replaced  # type: ignore[return-value]

    def _replaced(self, node: ast.Name | ast.Attribute) -> ast.expr:
        if _request_global(self.context, node, self.scope) is None:
            return node
        return ast.copy_location(ast.Constant(None), node)
