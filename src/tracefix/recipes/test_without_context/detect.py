"""CTX104's static check: a pytest test whose body needs an app context that neither the test
nor any fixture it gets pushes.

A test gets the fixtures it names as parameters, those of its ``usefixtures`` marks (on the
function, its class, or the module's ``pytestmark``) and the autouse fixtures it can see; any of
them pushing a context (itself or through the fixtures it requests, ``fixtures.context_source``)
gives the test one, whatever its scope. A fixture among them that keeps a context it never
pushes is reported once, where it makes it. Silent, as the recipe is, for projects on
pytest-flask (its fixture pushes a request context), where fixtures may come from
``pytest_plugins``, for a test that requests a fixture found nowhere in the project (a
plugin's, registered through an entry point: it may push a context), for the methods of test
classes but through such a fixture, and when the test reads the request before it needs the
app.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from collections.abc import Sequence

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_name
from tracefix.recipes._base import Recipe
from tracefix.recipes.test_without_context.fixtures import Fixture
from tracefix.recipes.test_without_context.fixtures import KeptContext
from tracefix.recipes.test_without_context.fixtures import context_source
from tracefix.recipes.test_without_context.fixtures import declares_plugins
from tracefix.recipes.test_without_context.fixtures import fixtures_in
from tracefix.recipes.test_without_context.fixtures import kept_context
from tracefix.recipes.test_without_context.fixtures import parametrized_names
from tracefix.recipes.test_without_context.fixtures import uses_pytest_flask
from tracefix.recipes.test_without_context.fixtures import visible_files
from tracefix.recipes.test_without_context.fixtures import visible_fixtures
from tracefix.scan.context_use import analysis

#: Parameters pytest fills with something other than a fixture of the project.
_NOT_FIXTURES = frozenset({"self", "cls", "request"})
#: pytest's own fixtures: none of them pushes a Flask context.
_PYTEST_FIXTURES = frozenset(
    {
        "cache",
        "capfd",
        "capfdbinary",
        "caplog",
        "capsys",
        "capsysbinary",
        "doctest_namespace",
        "monkeypatch",
        "pytestconfig",
        "record_property",
        "record_testsuite_property",
        "record_xml_attribute",
        "recwarn",
        "subtests",
        "tmp_path",
        "tmp_path_factory",
        "tmpdir",
        "tmpdir_factory",
    }
)


def untested_context_failures(recipe: Recipe, path: str, project: Project) -> Iterator[Diagnosis]:
    """A test module's failures; and in a module that defines a fixture keeping a context it
    never pushes, that fixture's finding, made from the tests that get it."""
    if is_test_module(path):
        yield from _test_module_failures(recipe, path, project)
    # A kept fixture spells both (``@pytest.fixture``, ``app.app_context()``): most modules
    # are passed over unparsed.
    if "context(" in (project.source(path) or "") and project.may_name(path, "fixture"):
        if any(
            f.path == path and (kept := kept_context(project, [f])) and kept.fixture.path == path
            for f in fixtures_in(project, path)
        ):
            for test_path in project.python_files():
                if is_test_module(test_path) and test_path != path:
                    for diagnosis in _test_module_failures(recipe, test_path, project):
                        if diagnosis.location.path == path:
                            yield diagnosis


def is_test_module(path: str) -> bool:
    """Whether pytest collects ``path`` as a test module by its default name patterns."""
    name = path_name(path)
    return name.startswith("test_") or name.endswith("_test.py")


def _test_module_failures(recipe: Recipe, path: str, project: Project) -> list[Diagnosis]:
    """Remembered: a module defining a kept fixture asks it of every test module."""
    return analysis(project).remember(
        ("CTX104 test module", path), lambda: list(_test_failures(recipe, path, project))
    )


def _test_failures(recipe: Recipe, path: str, project: Project) -> Iterator[Diagnosis]:
    tree = project.ast(path)
    context = analysis(project)
    if tree is None or context.remember("pytest-flask", lambda: uses_pytest_flask(project)):
        return
    if declares_plugins(project, path) is not None:
        return
    module_marks = _module_usefixtures(tree)
    fixtures = visible_fixtures(project, path)
    autouse = [fixture for fixture in _autouse_fixtures(project, path)]
    tests: list[tuple[ast.FunctionDef, ast.ClassDef | None]] = [
        (function, None) for function in tree.body if isinstance(function, ast.FunctionDef)
    ]
    tests += [
        (method, cls)
        for cls in _pytest_classes(tree)
        for method in cls.body
        if isinstance(method, ast.FunctionDef)
    ]
    for function, cls in tests:
        if not function.name.startswith("test"):
            continue
        marks = module_marks | _class_usefixtures(cls) if cls is not None else module_marks
        if _requests_unknown(function, marks, fixtures):
            continue
        given = _given(function, marks, fixtures, autouse)
        if any(context_source(project, fixture) for fixture in given):
            continue
        use = context.first_use(function.body, context.function_scope(path, function))
        if use is None:
            continue
        kept = kept_context(project, given)
        if kept is not None and (use.kind == "app" or kept.request):
            # One finding for the fixture, where it makes the context: one fix for every test.
            yield recipe.diagnosis(
                f"{kept.describe()}: {function.name}() ({path}:{use.line}) and every other "
                f"test that gets it run outside any, and {use.describe()} needs one",
                kept.location,
                test=failing_test_facts(
                    project, path, function.name, use.line, f"{path}::{function.name}"
                ),
                kept=kept_facts(project, kept),
            )
            continue
        if cls is not None or use.kind != "app":
            continue  # a method's own fix is not written: only a kept context's, above
        yield recipe.diagnosis(
            f"{use.describe()} needs an app context, but pytest runs {function.name}() outside "
            "any, and no fixture it requests pushes one",
            Location(path, use.line, use.column),
            test=failing_test_facts(
                project, path, function.name, use.line, f"{path}::{function.name}"
            ),
        )


def failing_test_facts(
    project: Project,
    path: str,
    function: str,
    line: int,
    node_id: str,
    context_line: str | None = None,
    **more: str,
) -> dict[str, object]:
    """What the fix needs of a failing test: where it fails, and that line's text (an event's,
    else the code's), by which the fix finds the line again if the code moved."""
    lines = (project.source(path) or "").splitlines()
    if context_line is None and 0 < line <= len(lines):
        context_line = lines[line - 1]
    return {
        "path": path,
        "function": function,
        "line": line,
        "context_line": context_line,
        "node_id": node_id,
        **more,
    }


def given_fixtures(
    project: Project, path: str, function: ast.FunctionDef, cls: ast.ClassDef | None = None
) -> list[Fixture]:
    """The project fixtures pytest gives the test ``function`` of ``path`` (a method of ``cls``):
    those it requests (parameters, its, its class's and its module's ``usefixtures`` marks) and
    the autouse ones it sees. For a test that failed: a plugin's fixture it requests too
    (pytest-mock's ``mocker``) is left out, as it evidently pushed no context."""
    tree = project.ast(path)
    marks = _module_usefixtures(tree) if tree is not None else set()
    if cls is not None:
        marks |= _class_usefixtures(cls)
    autouse = list(_autouse_fixtures(project, path))
    return _given(function, marks, visible_fixtures(project, path), autouse)


def test_definition(
    project: Project, path: str, names: Sequence[str]
) -> tuple[ast.FunctionDef, ast.ClassDef | None] | None:
    """The test that the names after the file in a node id give (``test_a``, or
    ``TestA::test_a`` for a method of a plain pytest class), with its class."""
    tree = project.ast(path)
    names = [name.split("[")[0] for name in names]
    if tree is None or len(names) not in (1, 2):
        return None
    if len(names) == 1:
        function = project.function(path, names[0])
        return (function, None) if function is not None else None
    cls = next((c for c in reversed(_pytest_classes(tree)) if c.name == names[0]), None)
    method = next(
        (
            m
            for m in reversed(cls.body if cls is not None else [])
            if isinstance(m, ast.FunctionDef) and m.name == names[1]
        ),
        None,
    )
    return (method, cls) if method is not None else None


def _pytest_classes(tree: ast.Module) -> list[ast.ClassDef]:
    """The top-level classes pytest collects as plain test classes: ``Test*``, no base (a
    ``unittest.TestCase`` is another runner's), no ``__init__``."""
    return [
        c
        for c in tree.body
        if isinstance(c, ast.ClassDef)
        and c.name.startswith("Test")
        and all(isinstance(b, ast.Name) and b.id == "object" for b in c.bases)
        and not any(isinstance(m, ast.FunctionDef) and m.name == "__init__" for m in c.body)
    ]


def _class_usefixtures(cls: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for decorator in cls.decorator_list:
        names |= _usefixtures(decorator)
    return names | _module_usefixtures(ast.Module(body=cls.body, type_ignores=[]))


def _given(
    function: ast.FunctionDef, marks: set[str], fixtures: dict[str, Fixture], autouse: list[Fixture]
) -> list[Fixture]:
    wanted = _requested(function) | marks
    return [fixtures[n] for n in sorted(wanted & fixtures.keys())] + autouse


def _requests_unknown(
    function: ast.FunctionDef, marks: set[str], fixtures: dict[str, Fixture]
) -> bool:
    """Whether the test requests a fixture the project does not define (a plugin's)."""
    return bool((_requested(function) | marks) - fixtures.keys() - _PYTEST_FIXTURES)


def kept_facts(project: Project, kept: KeptContext) -> dict[str, object]:
    """What the fix needs of a fixture's kept context, with the line's text to find it again."""
    fixture = kept.fixture
    lines = (project.source(fixture.path) or "").splitlines()
    return {
        "path": fixture.path,
        "fixture": fixture.node.name,
        "context": kept.name,
        "line": kept.line,
        "context_line": lines[kept.line - 1] if 0 < kept.line <= len(lines) else None,
        "popped": kept.popped,
        "request": kept.request,
    }


def _requested(function: ast.FunctionDef) -> set[str]:
    """The fixtures ``function`` names: its parameters (less parametrized ones) and marks."""
    arguments = function.args
    names = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    names -= parametrized_names(function) | _NOT_FIXTURES
    for decorator in function.decorator_list:
        names |= _usefixtures(decorator)
    return names


def _module_usefixtures(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets
        ):
            value = statement.value
            marks = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            for mark in marks:
                names |= _usefixtures(mark)
    return names


def _usefixtures(node: ast.expr) -> set[str]:
    """The names of ``pytest.mark.usefixtures("a", "b")``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "usefixtures"
    ):
        return {
            argument.value
            for argument in node.args
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        }
    return set()


def _autouse_fixtures(project: Project, path: str) -> Iterator[Fixture]:
    for file in visible_files(project, path):
        for fixture in fixtures_in(project, file):
            decorator = next(
                (d for d in fixture.node.decorator_list if isinstance(d, ast.Call)), None
            )
            if decorator is not None and any(
                k.arg == "autouse" and isinstance(k.value, ast.Constant) and k.value.value
                for k in decorator.keywords
            ):
                yield fixture
