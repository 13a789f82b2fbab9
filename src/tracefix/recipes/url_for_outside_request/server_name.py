"""Whether the project configures ``SERVER_NAME``, read from its code (tests left out).

``url_for`` outside a request needs ``SERVER_NAME`` to know the host (docs/context-errors.md
§3.3). What the fix may do depends on what the project says about it:

- ``none``: the project never mentions it. Its URLs are built against requests, so a script
  gets a test request context (relative URLs, under the configured ``APPLICATION_ROOT`` and
  ``PREFERRED_URL_SCHEME``); tracefix never invents a host.
- ``set``: it is set to a host, for every app the project makes (in the factory or at module
  level, not under an ``if``; or in the config class every other one derives from). An app
  context is enough there.
- ``unclear``: set only for some configurations, from the environment, or mentioned in a way
  this does not follow. No fix: the deployment's configuration is where it belongs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import project_files

State = Literal["none", "set", "unclear"]
KEY = "SERVER_NAME"


@dataclass(frozen=True)
class ServerName:
    state: State
    #: Where the project sets or reads it, for the explanation (``config.py:12``).
    places: tuple[str, ...] = ()


@per_project
def server_name(project: Project) -> ServerName:
    """What the project's (non-test) code says about ``SERVER_NAME``."""
    places: list[str] = []
    settled = False
    unsure = False
    for path, tree in project_files(project, mentioning=KEY):
        if is_test_path(path):
            continue
        mentions = _mentions(tree)
        settings = list(_settings(tree))
        places.extend(f"{path}:{line}" for line in sorted(mentions))
        covered = {setting.line for setting in settings}
        if mentions - covered:
            unsure = True
        for setting in settings:
            if not setting.literal:
                unsure = True
            elif setting.for_every_app:
                settled = True
    if not places:
        return ServerName("none")
    if settled and not unsure:
        return ServerName("set", tuple(places))
    return ServerName("unclear", tuple(places))


@dataclass(frozen=True)
class _Setting:
    line: int
    #: A non-empty string literal, rather than a value read at run time.
    literal: bool
    #: Whether every app the project makes gets it.
    for_every_app: bool


def _mentions(tree: ast.Module) -> set[int]:
    lines = set()
    for node in walk(tree):
        if isinstance(node, ast.Constant) and node.value == KEY:
            lines.add(node.lineno)
        elif isinstance(node, ast.Name) and node.id == KEY:
            lines.add(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg == KEY:
            lines.add(node.value.lineno)
    return lines


def _settings(tree: ast.Module) -> list[_Setting]:
    """``app.config["SERVER_NAME"] = v``, ``config.update(SERVER_NAME=v)`` (or a dict with the
    key), and ``SERVER_NAME = v`` in a config class or a config module."""
    found: list[_Setting] = []
    roots = _root_config_classes(tree)
    for statement, unconditional in _statements(tree.body, top=True):
        if isinstance(statement, ast.ClassDef):
            for inner in statement.body:
                if _assigns_name(inner):
                    assert isinstance(inner, ast.Assign)
                    found.append(
                        _Setting(inner.lineno, _is_host(inner.value), statement.name in roots)
                    )
            continue
        if _assigns_name(statement):
            assert isinstance(statement, ast.Assign)
            found.append(_Setting(statement.lineno, _is_host(statement.value), unconditional))
            continue
        for node in walk(statement):
            value = _config_value(node)
            if value is not None:
                found.append(_Setting(value.lineno, _is_host(value), unconditional))
    return found


def _statements(body: list[ast.stmt], *, top: bool) -> list[tuple[ast.stmt, bool]]:
    """Statements of the module and its functions' top-level bodies, each with whether it runs
    whenever its scope does (not under an ``if``, a loop or a ``try``)."""
    found: list[tuple[ast.stmt, bool]] = []
    for statement in body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            found.extend(_statements(statement.body, top=True))
        elif isinstance(statement, ast.If | ast.For | ast.While | ast.Try | ast.With):
            inner = [s for s in walk(statement) if isinstance(s, ast.stmt) and s is not statement]
            found.extend((s, False) for s in inner if not isinstance(s, ast.FunctionDef))
        else:
            found.append((statement, top))
    return found


def _assigns_name(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == KEY
    )


def _config_value(node: ast.AST) -> ast.expr | None:
    """The value ``node`` gives ``SERVER_NAME``, if it sets it."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.slice, ast.Constant)
                and target.slice.value == KEY
            ):
                return node.value
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg == KEY:
                return keyword.value
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == KEY:
                return value
    return None


def _is_host(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and isinstance(value.value, str) and bool(value.value)


def _root_config_classes(tree: ast.Module) -> set[str]:
    """The classes of the module that every other class of it with settings derives from."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    parents = {
        name: {base.id for base in node.bases if isinstance(base, ast.Name)}
        for name, node in classes.items()
    }

    def ancestors(name: str) -> set[str]:
        seen: set[str] = set()
        pending = [name]
        while pending:
            for parent in parents.get(pending.pop(), set()):
                if parent not in seen:
                    seen.add(parent)
                    pending.append(parent)
        return seen

    with_settings = [
        name
        for name, node in classes.items()
        if any(
            isinstance(s, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id.isupper() for t in s.targets)
            for s in node.body
        )
    ]
    return {
        root
        for root in with_settings
        if all(other == root or root in ancestors(other) for other in with_settings)
    }
