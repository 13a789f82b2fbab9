"""One file walked scope by scope, each name resolved as Python binds it, from the code alone.

Thread starts and pool tasks (CTX103, CTX106: ``thread_target/spawns.py``) and the handoffs to
schedulers, exit handlers, greenlets and processes (CTX113-CTX116: ``scheduled_job/handoff.py``)
are found by the same walk: every place a file refers to a function, as something that hands it
over, as a direct call, or otherwise. They differ in which calls hand a function over and in
what they record of it, which is all their walkers add to ``ScopeWalker``.

Module-level and function-level imports (absolute or relative, ``as`` aliases, re-exports through
a package's ``__init__``), ``module.function`` attribute chains, and local names that shadow them
are followed. Anything this cannot follow (``self.method``, a name bound at run time) is simply
not a reference, so callers that need every reference must treat "not found" as "not sure".
"""

from __future__ import annotations

import ast
import re
from abc import ABC
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import lines_matching
from tracefix.diagnose.nodes import unmarked_expression
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project


@dataclass(frozen=True)
class Assigned:
    """A name bound by an assignment (or ``with ... as name``): the value, to tell what made the
    object, and the qualified name when the binding is a module's global."""

    value: ast.expr
    qualified: str | None = None


#: What each name of a scope refers to: a qualified name (imports, definitions), an assigned
#: value, or ``None`` when unknown.
Scope = dict[str, "str | Assigned | None"]


class ScopeWalker(ABC):
    """Walks one file, resolving names scope by scope, and reports the references to the
    qualified names ``wanted``: handoffs (``_visit_handoff``), direct calls and other uses."""

    def __init__(self, project: Project, path: str, wanted: frozenset[str] = frozenset()) -> None:
        self.project = project
        self.path = path
        self.wanted = wanted
        self.module = project.module_name(path) or ""
        self._canonical = _canonical_names(project)

    def run(self, tree: ast.Module) -> None:
        scope = self.scope_of(tree.body, module_level=True)
        for statement in tree.body:
            self._visit(statement, scope, function=None, depth=0)

    def scope_of(
        self,
        body: list[ast.stmt],
        arguments: ast.arguments | None = None,
        *,
        module_level: bool = False,
        enclosing: Scope | None = None,
    ) -> Scope:
        """What each name bound in a scope refers to: a qualified name (imports, definitions),
        what ``_bind`` makes of an assignment, or ``None`` when unknown. ``enclosing`` is the
        scope around this one, for a walker whose bindings depend on it."""
        scope: Scope = {}
        if arguments is not None:
            for arg in all_arguments(arguments):
                scope[arg] = None
        # ``own_nodes(body)`` without its generator (a scan walks every scope of every file),
        # and without the expressions that cannot bind a name (``_MAY_BIND``).
        known = _binding_lines(self.project)
        if self.path not in known:
            known[self.path] = lines_matching(self.project.source(self.path), _MAY_BIND)
        lines = known[self.path]
        pending: list[ast.AST] = list(reversed(body))
        while pending:
            node = pending.pop()
            if not isinstance(node, _OWN_SCOPES):
                for child in reversed(child_nodes(node)):
                    if not unmarked_expression(child, lines):
                        pending.append(child)
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
                        scope[alias.asname or alias.name] = (
                            f"{source}.{alias.name}" if source else None
                        )
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                scope[node.name] = f"{self.module}.{node.name}" if module_level else None
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    scope.pop(name, None)
            else:
                self._bind(scope, node, module_level)
        return scope

    def _bind(self, scope: Scope, node: ast.AST, module_level: bool) -> None:
        """Record in ``scope`` what ``node`` binds besides imports and definitions: a name
        assigned or deleted refers to nothing this walk can follow."""
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            scope[node.id] = None

    def qualify(self, node: ast.expr, scope: Scope) -> str | None:
        """The canonical qualified name ``node`` refers to, or ``None``."""
        if isinstance(node, ast.Name):
            bound = scope.get(node.id)
            qualified = bound.qualified if isinstance(bound, Assigned) else bound
        elif isinstance(node, ast.Attribute):
            base = self.qualify(node.value, scope)
            qualified = f"{base}.{node.attr}" if base else None
        else:
            return None
        if not qualified:
            return None
        found = self._canonical.get(qualified)
        if found is None:
            found = self._canonical[qualified] = _canonical(self.project, qualified)
        return found

    def _visit(self, node: ast.AST, scope: Scope, function: str | None, depth: int) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self._visit(default, scope, function, depth)
            if not isinstance(node, ast.Lambda):
                for decorator in node.decorator_list:
                    if not self._visit_decorator(node, decorator, scope, function, depth):
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
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                self._visit_string(node, node.value, function, depth)
            return
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            qualified = self.qualify(node, scope)
            if qualified is not None and qualified in self.wanted:
                self._report_reference(qualified, node, "other", function, depth)
                return
        if isinstance(node, ast.Name):
            return  # its one child is its context
        for child in child_nodes(node):
            if not isinstance(child, _NO_REFERENCES):
                self._visit(child, scope, function, depth)

    def _visit_call(self, call: ast.Call, scope: Scope, function: str | None, depth: int) -> None:
        callee = self.qualify(call.func, scope)
        handed = self._visit_handoff(call, callee, scope, function, depth)
        if handed is None:
            if callee is not None and callee in self.wanted:
                self._report_reference(callee, call, "call", function, depth)
            else:
                self._visit(call.func, scope, function, depth)
        for child in [*call.args, *call.keywords]:
            value = child.value if isinstance(child, ast.keyword) else child
            if value is not handed:
                self._visit(value, scope, function, depth)

    def _visit_handoff(
        self, call: ast.Call, callee: str | None, scope: Scope, function: str | None, depth: int
    ) -> ast.expr | None:
        """Report ``call`` if it hands a wanted function over: the node handed (which is then not
        a reference of its own), or ``None`` when ``call`` is no such handoff."""
        return None

    def _visit_decorator(
        self,
        decorated: ast.FunctionDef | ast.AsyncFunctionDef,
        decorator: ast.expr,
        scope: Scope,
        function: str | None,
        depth: int,
    ) -> bool:
        """Report ``decorator`` if it hands the wanted function over; whether it did."""
        return False

    def _visit_string(  # noqa: B027 (a hook: only some walkers read names in strings)
        self, node: ast.Constant, text: str, function: str | None, depth: int
    ) -> None:
        """A string constant ``text``: no reference, unless a walker reads names in strings."""

    @abstractmethod
    def _report_reference(
        self, qualified: str, node: ast.expr, role: str, function: str | None, depth: int
    ) -> None:
        """Record a reference to ``qualified`` at ``node``: ``role`` is ``"call"``, ``"other"``
        or what the walker's handoff is."""


@per_project
def _canonical_names(project: Project) -> dict[str, str]:
    """``_canonical``'s answers, remembered: a walk asks it of every name a file reads, and
    each answer may read a module's top level (a project that hands functions to greenlets
    had every file walked, and asked it 63,000 times)."""
    return {}


def _canonical(project: Project, qualified: str, depth: int = 0) -> str:
    """``qualified`` with the project's re-exports followed (``pkg.sync`` -> ``pkg.jobs.sync``)."""
    if depth > 5:
        return qualified
    module, _, name = qualified.rpartition(".")
    if not module or project.module_path(qualified) is not None:
        return qualified
    path = project.module_path(module)
    tree = project.ast(path) if path else None
    if path is None or tree is None:
        return qualified
    origin = qualified
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = project.absolute_module(path, node.module, node.level)
            for alias in node.names:
                if (alias.asname or alias.name) == name and source:
                    origin = _canonical(project, f"{source}.{alias.name}", depth + 1)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name == name
        ):
            origin = qualified
    return origin


_OWN_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
#: In an expression, only a walrus or a comprehension binds a name, and each spells ``:=``
#: or ``for`` on a line of its own span.
_MAY_BIND = re.compile(r":=|\bfor\b", re.ASCII)


@per_project
def _binding_lines(project: Project) -> dict[str, list[int] | None]:
    """Each file's lines that may bind a name in an expression (``_MAY_BIND``), once."""
    return {}


#: Nodes without children that ``_visit`` has nothing to do with: not visited at all.
_NO_REFERENCES = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """A scope's nodes in source order: nested functions, classes and lambdas are yielded (their
    names bind in this scope), not what they hold."""
    pending: list[ast.AST] = list(reversed(body))
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, _OWN_SCOPES):
            continue
        pending.extend(reversed(child_nodes(node)))


def local_names(function: ast.FunctionDef) -> set[str]:
    """The names ``function`` binds itself: parameters, assignments, imports."""
    names = set(all_arguments(function.args))
    for node in walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return names


def all_arguments(arguments: ast.arguments) -> Iterator[str]:
    """The names of a function's parameters, ``*args`` and ``**kwargs`` included."""
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        yield arg.arg
    for star in (arguments.vararg, arguments.kwarg):
        if star is not None:
            yield star.arg
