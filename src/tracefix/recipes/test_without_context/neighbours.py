"""How the other tests of a module get their context: the fixtures a failing test should request.

A project's tests show how it sets up what a test needs. cookiecutter-flask's model tests say
``@pytest.mark.usefixtures("db")``: the ``db`` fixture creates the tables, and it requests the
``app`` fixture, which pushes a request context. A new test in that module that uses ``db.session``
and the models needs the same request, not a context of its own around an app without tables.

So: among the other tests of the test's module that use one of the module-level names it uses
(``db``, ``User``) and that run with a context, the fixtures requested *for their set-up* (by a
``usefixtures`` mark, or as a parameter the test either never reads or reads under a name the
failing test also uses) that push a context, directly or through the fixtures they request.
A fixture counts when more than half of those tests request it; with no such fixture there is
no pattern to follow. A fixture asked for only for its value, such as ``client`` for
``client.get(...)``, is not set-up and is not copied.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.apps import pushes_app_context
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes.test_without_context.fixtures import Fixture
from tracefix.recipes.test_without_context.fixtures import context_source
from tracefix.recipes.test_without_context.fixtures import parametrized_names
from tracefix.recipes.test_without_context.fixtures import visible_fixtures

Form = Literal["mark", "parameter"]
#: Names too general to say two tests use the same things.
_GENERAL_NAMES = frozenset({"pytest", "self"})
#: Parameters pytest fills with something other than a project fixture.
_NOT_FIXTURES = frozenset({"self", "cls", "request"})


@dataclass(frozen=True)
class Request:
    """A fixture to request, the way the neighbouring tests request it."""

    fixture: Fixture
    form: Form
    #: The fixture that pushes the context: ``fixture`` itself or one it requests.
    source: Fixture


@dataclass(frozen=True)
class Pattern:
    requests: tuple[Request, ...]
    #: The neighbouring tests that follow it (``TestUser.test_get_by_id``).
    tests: tuple[str, ...]
    #: The module-level names the failing test shares with them.
    shared: tuple[str, ...]


def neighbour_pattern(
    project: Project, path: str, function: ast.FunctionDef, module_names: set[str]
) -> Pattern | None:
    """The fixtures the other tests of ``path`` that use the same things request to get a
    context, or ``None`` when they show no clear pattern."""
    tree = project.ast(path)
    if tree is None:
        return None
    used = _loaded(function.body) & module_names - _GENERAL_NAMES
    if not used:
        return None
    visible = visible_fixtures(project, path)
    everywhere = set(_module_marks(tree))
    counts: Counter[str] = Counter()
    forms: dict[str, list[Form]] = {}
    followers: dict[str, list[str]] = {}
    shared: dict[str, set[str]] = {}
    with_context = 0
    for test, cls in _tests(tree):
        if (test.name, test.lineno) == (function.name, function.lineno):
            continue
        loaded = _loaded(test.body)
        if not used & loaded:
            continue
        requests = _requests(test, cls)
        local = _class_fixtures(cls)
        pushing = {
            name: visible[name]
            for name, _ in requests
            if name in visible and name not in local and context_source(project, visible[name])
        }
        if not pushing and not _pushes_itself(project, path, test):
            continue
        with_context += 1
        label = f"{cls.name}.{test.name}" if cls is not None else test.name
        shared[label] = used & loaded
        counted: set[str] = set()
        for name, how in requests:
            if name not in pushing or name in everywhere or name in counted:
                continue
            if how == "parameter" and name in loaded and name not in used:
                continue  # asked for its value (client.get), not for set-up
            counted.add(name)
            counts[name] += 1
            forms.setdefault(name, []).append(how)
            followers.setdefault(name, []).append(label)
    chosen = [name for name, count in counts.most_common() if 2 * count > with_context]
    if not chosen:
        return None
    result = []
    for name in chosen:
        fixture = visible[name]
        source = context_source(project, fixture)
        assert source is not None
        marks = forms[name].count("mark")
        form: Form = "mark" if 2 * marks >= len(forms[name]) else "parameter"
        result.append(Request(fixture, form, source))
    tests = sorted({label for name in chosen for label in followers[name]})
    names = set().union(*(shared[label] for label in tests))
    return Pattern(tuple(result), tuple(tests), tuple(sorted(names)))


def requested(function: ast.FunctionDef) -> set[str]:
    """The fixtures ``function`` requests itself: its parameters and its ``usefixtures`` marks."""
    return {name for name, _ in _requests(function, None)}


def usefixtures_names(decorator: ast.expr) -> list[str] | None:
    """The names of ``@pytest.mark.usefixtures("a", "b")``, or ``None`` for another decorator."""
    if not (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "usefixtures"
        and isinstance(decorator.func.value, ast.Attribute)
        and decorator.func.value.attr == "mark"
    ):
        return None
    return [
        a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]


def _tests(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef, ast.ClassDef | None]]:
    """pytest's default collection: ``test*`` functions, and ``test*`` methods of ``Test*``
    classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            yield node, None
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    yield item, node


def _requests(function: ast.FunctionDef, cls: ast.ClassDef | None) -> list[tuple[str, Form]]:
    found: list[tuple[str, Form]] = []
    marks = list(function.decorator_list)
    if cls is not None:
        marks += cls.decorator_list
        marks += [m for s in cls.body for m in _pytestmark_values(s)]
    for decorator in marks:
        found.extend((name, "mark") for name in usefixtures_names(decorator) or [])
    parametrized = parametrized_names(function)
    arguments = function.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        if argument.arg not in _NOT_FIXTURES and argument.arg not in parametrized:
            found.append((argument.arg, "parameter"))
    return found


def _module_marks(tree: ast.Module) -> Iterator[str]:
    """Fixtures a module-level ``pytestmark`` requests for every test, the failing one too."""
    for statement in tree.body:
        for mark in _pytestmark_values(statement):
            yield from usefixtures_names(mark) or []


def _pytestmark_values(statement: ast.stmt) -> list[ast.expr]:
    if not (
        isinstance(statement, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets)
    ):
        return []
    value = statement.value
    return list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value]


def _class_fixtures(cls: ast.ClassDef | None) -> set[str]:
    """Fixtures a test class defines as methods; they shadow the module's and conftest's."""
    if cls is None:
        return set()
    return {
        item.name
        for item in cls.body
        if isinstance(item, ast.FunctionDef)
        and any(
            "fixture" in ast.unparse(d.func if isinstance(d, ast.Call) else d)
            for d in item.decorator_list
        )
    }


def _pushes_itself(project: Project, path: str, test: ast.FunctionDef) -> bool:
    """Whether the test pushes a context in its body, or its class's set-up does."""
    if test.body and inside_app_context(project, path, test.body[0].lineno):
        return True
    if pushes_app_context(test.body):
        return True
    return any(
        isinstance(node, ast.With | ast.AsyncWith)
        and any(is_context_call(item.context_expr) for item in node.items)
        for node in walk(test)
    )


def _loaded(statements: list[ast.stmt]) -> set[str]:
    return {
        node.id
        for statement in statements
        for node in walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
