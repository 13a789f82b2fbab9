"""How a project builds its Click command line, read from its code: which functions are plain
Click commands and groups, and which groups they hang under.

Flask gives a command an app context in two ways: a command declared on ``app.cli``,
``bp.cli``, a ``FlaskGroup`` or an ``AppGroup`` is wrapped in ``with_appcontext`` when it is
declared, and a ``FlaskGroup`` keeps the app (its ``create_app``) for ``with_appcontext`` to
push. A function declared with ``@click.command()``, ``@click.group()`` or on such a plain
group gets neither. What CTX107 may write depends on the group above the command: under a
``FlaskGroup``, ``@with_appcontext`` uses the group's app; anywhere else the command must make
its own context.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes.celery_task.names import Binding
from tracefix.recipes.celery_task.names import External
from tracefix.recipes.celery_task.names import Names
from tracefix.recipes.celery_task.names import Target
from tracefix.recipes.celery_task.names import assigned_value
from tracefix.recipes.celery_task.names import decorator_call
from tracefix.recipes.celery_task.names import keyword

CLICK_DECORATORS = {
    "click.command": "command",
    "click.group": "group",
    "click.decorators.command": "command",
    "click.decorators.group": "group",
}
CLICK_GROUP_CLASSES = frozenset({"click.Group", "click.core.Group"})
FLASK_GROUP_CLASSES = frozenset({"flask.cli.FlaskGroup"})
APP_GROUP_CLASSES = frozenset({"flask.cli.AppGroup"})
WITH_APPCONTEXT = frozenset({"flask.cli.with_appcontext"})
#: Decorator methods of a group that declare a command on it.
GROUP_METHODS = {"command": "command", "group": "group"}

#: What a group is: a plain Click group, a ``FlaskGroup`` (it has the app), an ``AppGroup``
#: (wraps its own commands, has no app), or a Flask app's or blueprint's ``cli``.
GroupKind = Literal["plain", "flask_group", "app_group", "flask_cli", "unknown"]


@dataclass(frozen=True)
class Command:
    """A top-level function the project declares as a plain Click command or group."""

    path: str
    function: ast.FunctionDef
    kind: Literal["command", "group"]


@dataclass(frozen=True)
class Parent:
    """A group a command or group is declared on or added to."""

    kind: GroupKind
    #: The group's own definition, when it is a module-level one of the project.
    binding: Binding | None
    #: Where the link is made: the decorator or the ``add_command`` call.
    path: str
    line: int


class ClickCli:
    """The Click command line of one project."""

    def __init__(self, project: Project, names: Names | None = None) -> None:
        self.project = project
        self.names = names or Names(project)
        self._added: list[tuple[str, int, Target | None, ast.expr]] | None = None

    def command(self, path: str, name: str) -> Command | None:
        """The top-level function ``name`` of ``path`` if it is a plain Click command or group:
        declared with ``@click.command()``/``@click.group()`` or on a group that does not wrap
        its commands in an app context."""
        function = self.project.function(path, name)
        if function is None:
            return None
        for decorator in function.decorator_list:
            callee, call = decorator_call(decorator)
            target = self.names.resolve(path, callee)
            if isinstance(target, External) and target.dotted in CLICK_DECORATORS:
                kind = self._declared_kind(path, call)
                if kind in ("flask_group", "app_group"):
                    return None
                return Command(path, function, _command_kind(CLICK_DECORATORS[target.dotted]))
            if isinstance(callee, ast.Attribute) and callee.attr in GROUP_METHODS:
                group = self.group_kind(path, callee.value)
                if group == "plain":
                    return Command(path, function, _command_kind(GROUP_METHODS[callee.attr]))
                return None
        return None

    def commands(self, path: str) -> Iterator[Command]:
        tree = self.project.ast(path)
        for statement in tree.body if tree is not None else ():
            if isinstance(statement, ast.FunctionDef) and statement.decorator_list:
                command = self.command(path, statement.name)
                if command is not None and command.function is statement:
                    yield command

    def parents(self, path: str, name: str) -> list[Parent]:
        """The groups the module-level ``name`` of ``path`` is declared on or added to."""
        found: list[Parent] = []
        function = self.project.function(path, name)
        for decorator in function.decorator_list if function is not None else ():
            callee, _ = decorator_call(decorator)
            if self._is_click_decorator(path, callee):
                continue
            if isinstance(callee, ast.Attribute) and callee.attr in GROUP_METHODS:
                found.append(self._parent(path, callee.value, decorator.lineno))
        for file, line, added, group in self._add_command_calls():
            if isinstance(added, Binding) and (added.path, added.name) == (path, name):
                found.append(self._parent(file, group, line))
        return found

    def ancestors(self, path: str, name: str) -> list[Parent]:
        """Every group above ``name``, following declarations and ``add_command`` upwards."""
        seen: set[tuple[str, str]] = {(path, name)}
        pending = [(path, name)]
        found: list[Parent] = []
        while pending:
            current = pending.pop()
            for parent in self.parents(*current):
                found.append(parent)
                binding = parent.binding
                if binding is not None and (binding.path, binding.name) not in seen:
                    seen.add((binding.path, binding.name))
                    pending.append((binding.path, binding.name))
        return found

    def _is_click_decorator(self, path: str, callee: ast.expr) -> bool:
        target = self.names.resolve(path, callee)
        return isinstance(target, External) and target.dotted in CLICK_DECORATORS

    def routes(self, path: str, name: str) -> set[Literal["flask", "plain", "unknown"]]:
        """How each way up from ``name`` to a top-level group ends: ``"flask"`` when it passes
        a ``FlaskGroup`` or an app's ``cli`` (they keep the app for ``with_appcontext``),
        ``"plain"`` when it reaches a plain group or command with nothing above it, and
        ``"unknown"`` when a group on the way cannot be read."""
        found: set[Literal["flask", "plain", "unknown"]] = set()
        pending = [(path, name, frozenset({(path, name)}))]
        while pending:
            current_path, current, seen = pending.pop()
            parents = self.parents(current_path, current)
            if not parents:
                found.add("plain")
            for parent in parents:
                if parent.kind in ("flask_group", "flask_cli"):
                    found.add("flask")
                elif parent.kind == "unknown" or parent.binding is None:
                    found.add("unknown")
                else:
                    key = (parent.binding.path, parent.binding.name)
                    if key in seen:
                        found.add("unknown")
                    else:
                        pending.append((*key, seen | {key}))
        return found

    def uses_flask_group(self) -> bool:
        """Whether any file of the project names ``FlaskGroup``."""
        return any(
            "FlaskGroup" in (self.project.source(path) or "")
            for path in self.project.python_files()
        )

    def group_kind(self, path: str, node: ast.expr) -> GroupKind:
        """What the group the expression ``node`` of ``path`` names is."""
        if isinstance(node, ast.Attribute) and node.attr == "cli":
            return "flask_cli"
        target = self.names.resolve(path, node)
        if not isinstance(target, Binding):
            return "unknown"
        return self._binding_kind(target)

    def _binding_kind(self, binding: Binding) -> GroupKind:
        statement = binding.statement
        if isinstance(statement, ast.FunctionDef):
            for decorator in statement.decorator_list:
                callee, call = decorator_call(decorator)
                target = self.names.resolve(binding.path, callee)
                if isinstance(target, External) and CLICK_DECORATORS.get(target.dotted) == "group":
                    return self._declared_kind(binding.path, call)
                if isinstance(callee, ast.Attribute) and callee.attr == "group":
                    parent = self.group_kind(binding.path, callee.value)
                    if parent == "unknown":
                        return "unknown"
                    return self._declared_kind(binding.path, call)
            return "unknown"
        value = assigned_value(statement, binding.name)
        if isinstance(value, ast.Call):
            return self._class_kind(binding.path, value.func)
        return "unknown"

    def _declared_kind(self, path: str, call: ast.Call | None) -> GroupKind:
        """The kind ``@click.group(cls=...)`` (or ``command``) makes: plain without ``cls``."""
        cls = keyword(call, "cls")
        return "plain" if cls is None else self._class_kind(path, cls)

    def _class_kind(self, path: str, node: ast.expr) -> GroupKind:
        target = self.names.resolve(path, node)
        if isinstance(target, External):
            if target.dotted in FLASK_GROUP_CLASSES:
                return "flask_group"
            if target.dotted in APP_GROUP_CLASSES:
                return "app_group"
            if target.dotted in CLICK_GROUP_CLASSES:
                return "plain"
        return "unknown"

    def _parent(self, path: str, node: ast.expr, line: int) -> Parent:
        kind = self.group_kind(path, node)
        target = None if kind == "flask_cli" else self.names.resolve(path, node)
        return Parent(kind, target if isinstance(target, Binding) else None, path, line)

    def _add_command_calls(self) -> list[tuple[str, int, Target | None, ast.expr]]:
        """Every ``<group>.add_command(<command>, ...)`` of the project: its file and line, what
        the command argument resolves to, and the group expression."""
        if self._added is None:
            self._added = []
            for path in self.project.python_files():
                if "add_command" not in (self.project.source(path) or ""):
                    continue
                tree = self.project.ast(path)
                for function, call in _calls(tree) if tree is not None else ():
                    func = call.func
                    if not (
                        isinstance(func, ast.Attribute) and func.attr == "add_command" and call.args
                    ):
                        continue
                    local = self.names.local_scope(path, function) if function else None
                    added = self.names.resolve(path, call.args[0], local)
                    self._added.append((path, call.lineno, added, func.value))
        return self._added


def _command_kind(kind: str) -> Literal["command", "group"]:
    return "group" if kind == "group" else "command"


def _calls(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | None, ast.Call]]:
    """Calls at module level and in top-level functions, each with its function."""
    for statement in tree.body:
        function = statement if isinstance(statement, ast.FunctionDef) else None
        for node in walk(statement):
            if isinstance(node, ast.Call):
                yield function, node
