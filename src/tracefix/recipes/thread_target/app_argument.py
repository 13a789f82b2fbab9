"""A thread target that is handed the running app already, and forgot to push its context:
``Thread(target=send_async_email, args=[app, msg])`` with ``def send_async_email(app, msg):``
and no ``with app.app_context():`` (the Flask Mega-Tutorial's pattern, minus one line).

The fix is that one line: the body goes under the parameter's context, and no signature or
start changes. Sure only when every start hands the app itself over at that parameter's place:
``current_app._get_current_object()``, a name the starting function set to exactly that, or
the module's own app.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes.thread_target.spawns import ARGS_INDEX
from tracefix.recipes.thread_target.spawns import THREAD_CLASS_NAMES
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import bound_name


def app_parameter(
    project: Project, path: str, function: ast.FunctionDef, starts: Sequence[Reference]
) -> str | None:
    """The parameter of ``function`` that every one of ``starts`` passes the running app to,
    if there is exactly one; ``None`` when any start is not plain enough to tell."""
    parameters = [arg.arg for arg in (*function.args.posonlyargs, *function.args.args)]
    common: set[int] | None = None
    for start in starts:
        passed = _passed(project, start)
        if passed is None:
            return None
        apps = {index for index, value in enumerate(passed) if _is_app(project, start, value)}
        common = apps if common is None else common & apps
    if not common or len(common) != 1:
        return None
    index = common.pop()
    return parameters[index] if index < len(parameters) else None


def _passed(project: Project, start: Reference) -> list[ast.expr] | None:
    """The arguments the start at ``start`` passes its target positionally, written out."""
    tree = project.ast(start.path)
    if tree is None or start.role not in ARGS_INDEX:
        return None
    calls = [
        node
        for node in walk(tree)
        if isinstance(node, ast.Call)
        and node.lineno == start.line
        and getattr(node.func, "attr", getattr(node.func, "id", None))
        == THREAD_CLASS_NAMES[start.role]
    ]
    if len(calls) != 1:
        return None
    call = calls[0]
    if any(keyword.arg in (None, "kwargs") for keyword in call.keywords):
        return None
    values = [keyword.value for keyword in call.keywords if keyword.arg == "args"]
    position = ARGS_INDEX[start.role]
    if not values and len(call.args) > position:
        values = [call.args[position]]
    if not values:
        return []
    value = values[0]
    if not isinstance(value, ast.Tuple | ast.List) or any(
        isinstance(element, ast.Starred) for element in value.elts
    ):
        return None
    return list(value.elts)


def _is_app(project: Project, start: Reference, value: ast.expr) -> bool:
    if _is_real_app(project, start, value):
        return True
    if not isinstance(value, ast.Name):
        return False
    function = project.function(start.path, start.function) if start.function else None
    if function is None:
        return start.module_level and value.id == app_name_in_scope(project, start.path)
    bindings = [
        node
        for node in walk(function)
        if isinstance(node, ast.Name) and node.id == value.id and not isinstance(node.ctx, ast.Load)
    ]
    if not bindings:  # not the function's own: the module's app, if that is what it names
        arguments = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
        return value.id not in arguments and value.id == app_name_in_scope(project, start.path)
    assignments = [
        node
        for node in walk(function)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == value.id
    ]
    return (
        len(bindings) == 1
        and len(assignments) == 1
        and _is_real_app(project, start, assignments[0].value)
    )


def _is_real_app(project: Project, start: Reference, value: ast.expr) -> bool:
    """``current_app._get_current_object()``, however ``current_app`` is imported there."""
    if not (
        isinstance(value, ast.Call)
        and not value.args
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "_get_current_object"
    ):
        return False
    current_app = bound_name(project, start.path, "flask.current_app", start.line)
    return current_app is not None and ast.unparse(value.func.value) == current_app
