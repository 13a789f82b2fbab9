"""Threads handed an expression instead of a function's name: a lambda, a ``functools.partial``
or a bound method (``Thread(target=lambda: build(kind))``, ``Thread(target=reporter.run)``).

There is no body of the project's own to push a context in (a lambda cannot hold a ``with``;
a partial's or a method's function may run elsewhere too), so the fix is made where the thread
starts: it hands over ``copy_current_request_context(<the expression>)``, which runs it in a copy
of the request's context. Found only where that is sure to work: one start in the project hands
over the expression that failed, and it starts in a request (a route or a request hook; not a
CLI command, which has an app context but no request to copy).
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Recipe
from tracefix.recipes.thread_target.spawns import VIEW_DECORATORS
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import Spawn
from tracefix.recipes.thread_target.spawns import every_caller
from tracefix.recipes.thread_target.spawns import handed_function
from tracefix.recipes.thread_target.spawns import references
from tracefix.recipes.thread_target.spawns import spawns_in
from tracefix.scan.context_use import analysis


@dataclass(frozen=True)
class HandedStart:
    """The start that handed the failed thread its expression, and which form that takes."""

    spawn: Spawn
    form: str  # "a lambda", "a functools.partial", "a bound method"
    expression: str
    #: The route, request hook or helper of theirs the start is in.
    view: str


def handed_diagnosis(
    recipe: Recipe,
    event: Event,
    project: Project,
    frame: Frame,
    roles: Collection[str],
    runs: str,
) -> Diagnosis | None:
    """``recipe``'s diagnosis of a thread whose first project frame, ``frame``, ran what a
    start of one of ``roles`` handed over as a lambda, a partial or a bound method; ``runs``
    says how it ran (``"runs in a thread started"``)."""
    found = handed_start(project, frame, roles)
    if found is None:
        return None
    spawn = found.spawn
    failed = next(f for f in reversed(event.frames) if f.in_app)
    return recipe.diagnosis(
        f"{found.expression} ({spawn.path}:{spawn.line}), {found.form}, {runs} in "
        f"{found.view}(), which runs only while Flask handles a request, and needs an app "
        f"context at {failed.filename}:{failed.lineno}. "
        "Flask's contexts are per thread: a new thread starts without one, even when a view "
        "started it. The view carried on, so this failure may only show in the logs.",
        Location(spawn.path, spawn.line, spawn.column),
        handed={"path": spawn.path, "line": spawn.line, "kind": spawn.role, "form": found.form},
    )


def wrap_handed_start(project: Project, handed: Mapping[str, Any]) -> tuple[FileChange, ...]:
    """The fix: hand ``copy_current_request_context(<expression>)`` over at the start."""
    from tracefix.recipes.request_in_thread.fix import wrap_handed

    start = Reference(handed["path"], handed["line"], handed["kind"], None, False)
    return wrap_handed(project, [start])


def handed_start(
    project: Project, frame: Frame, roles: Collection[str] = ("thread", "timer")
) -> HandedStart | None:
    """The one start of one of ``roles`` whose handed expression ran ``frame`` (the project
    frame the thread's ``run`` called), when it is a lambda, a partial or a bound method, and
    it starts in a request; ``None`` when there is not exactly one such start."""
    found = []
    for path in _files_naming(project, frame):
        tree = project.ast(path)
        if tree is None:
            continue
        calls = _calls_by_line(tree)
        for spawn in spawns_in(project, path):
            if spawn.role not in roles:
                continue
            handed = _handed_at(calls.get(spawn.line, []), spawn)
            form = handed is not None and _form(project, frame, spawn, handed)
            if form:
                assert handed is not None
                found.append((spawn, form, ast.unparse(handed)))
    if len(found) != 1:
        return None
    spawn, form, expression = found[0]
    view = _request_function(project, spawn)
    if view is None:
        return None
    return HandedStart(spawn, form, expression, view)


def _files_naming(project: Project, frame: Frame) -> list[str]:
    """The files a start of ``frame``'s code can be in: its own for a lambda, else every file
    that spells its function's name."""
    if frame.function == "<lambda>":
        return [frame.filename]
    return [
        path for path in project.python_files() if frame.function in (project.source(path) or "")
    ]


def _calls_by_line(tree: ast.Module) -> dict[int, list[ast.Call]]:
    calls: dict[int, list[ast.Call]] = {}
    for node in walk(tree):
        if isinstance(node, ast.Call):
            calls.setdefault(node.lineno, []).append(node)
    return calls


def _handed_at(calls: list[ast.Call], spawn: Spawn) -> ast.expr | None:
    for call in calls:
        handed = handed_function(call, spawn.role)
        if handed is not None and handed.col_offset + 1 == spawn.column:
            return handed
    return None


def _form(project: Project, frame: Frame, spawn: Spawn, handed: ast.expr) -> str | None:
    line = frame.lineno or 0
    if isinstance(handed, ast.Lambda):
        if spawn.path == frame.filename and handed.lineno <= line <= (handed.end_lineno or 0):
            return "a lambda"
        return None
    if isinstance(handed, ast.Call) and _called_name(handed) == "partial" and handed.args:
        function = project.function(frame.filename, frame.function)
        if function is None or not isinstance(handed.args[0], ast.Name):
            return None
        named = handed.args[0]
        if named.id != frame.function:
            return None
        if any(
            ref.path == spawn.path and ref.line == named.lineno
            for ref in references(project, frame.filename, frame.function)
        ):
            return "a functools.partial"
        return None
    if isinstance(handed, ast.Attribute) and handed.attr == frame.function:
        if _method_at(project, frame):
            return "a bound method"
    return None


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _method_at(project: Project, frame: Frame) -> bool:
    """Whether ``frame`` runs a method of a class in its file (not a top-level function)."""
    tree = project.ast(frame.filename)
    if tree is None or frame.lineno is None:
        return False
    for node in walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and item.name == frame.function
                    and item.lineno <= frame.lineno <= (item.end_lineno or item.lineno)
                ):
                    return True
    return False


def _request_function(project: Project, spawn: Spawn) -> str | None:
    """The function ``spawn`` sits directly in, when it runs only in a request: a route or a
    request hook, or a helper that only such functions call (``every_caller``: CTFd's
    ``sendmail``, called from its API's resources)."""
    if spawn.function is None:
        return None
    start = Reference(spawn.path, spawn.line, spawn.role, spawn.function, spawn.module_level)
    return spawn.function if every_caller(project, start, partial(_in_request, project)) else None


def _in_request(project: Project, place: Reference) -> bool:
    if analysis(project).in_view_method(place.path, place.line):
        return True
    function = project.function(place.path, place.function) if place.function else None
    return function is not None and is_request_function(function)


def is_request_function(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether Flask runs ``function`` in a request: a route or a request hook (not a CLI
    command, which has an app context and no request)."""
    for decorator in function.decorator_list:
        func = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(func, ast.Attribute) and func.attr in VIEW_DECORATORS:
            return True
    return False
