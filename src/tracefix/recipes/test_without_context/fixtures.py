"""The pytest fixtures a test can see, read from the test module and the conftest files above it.

pytest looks a fixture name up in the test module first, then in ``conftest.py`` files from the
test's directory up to the root directory; the nearest definition wins. Fixtures that plugins
provide (``pytest_plugins``, installed plugins) are not in the project's code, so a caller that
finds nothing must also ask ``declares_plugins``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass

from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.apps import pushes_app_context
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_parent
from tracefix.diagnose.project import per_project

#: Text that marks a project using pytest-flask, whose autouse fixture pushes a request context
#: for every test that requests ``app``.
PYTEST_FLASK_MARKS = ("pytest-flask", "pytest_flask")


@dataclass(frozen=True)
class Fixture:
    name: str
    path: str
    line: int
    #: ``"function"``, ``"module"``, ...; ``None`` when the scope is computed at run time.
    scope: str | None
    #: Whether its own body pushes a context for the test: it yields inside
    #: ``with <app>.app_context():`` (or a request context), or pushes one
    #: (``ctx = app.test_request_context(); ctx.push()``) before its ``yield`` or ``return``.
    pushes: bool
    node: ast.FunctionDef


def visible_files(project: Project, test_path: str) -> list[str]:
    """The test module, then each ``conftest.py`` from its directory up to the root."""
    files = [test_path]
    directory = path_parent(test_path)
    while True:
        conftest = (
            "conftest.py"
            if directory == "."
            else f"{directory}conftest.py"
            if directory.endswith("/")
            else f"{directory}/conftest.py"
        )
        if conftest in project.files:
            files.append(conftest)
        parent = path_parent(directory)
        if parent == directory:
            break
        directory = parent
    return files


def visible_fixtures(project: Project, test_path: str) -> dict[str, Fixture]:
    """Each fixture name the test can request, with the definition pytest would use."""
    found: dict[str, Fixture] = {}
    for path in visible_files(project, test_path):
        for fixture in fixtures_in(project, path):
            found.setdefault(fixture.name, fixture)
    return found


def fixtures_in(project: Project, path: str) -> tuple[Fixture, ...]:
    """The fixtures pytest finds in the module at ``path``: those it defines, then those it
    imports from the project's modules (``from tests.fixtures.app import *`` in a conftest is
    a common way to share them), each with the file that defines it. Remembered per module:
    imports chain through the project, and every test asks of the same conftest files."""
    known = _fixtures_by_module(project)
    found = known.get(path)
    if found is None:
        known[path] = ()  # an import cycle that comes back here finds nothing more
        found = known[path] = (*_defined_in(project, path), *_imported_into(project, path))
    return found


@per_project
def _fixtures_by_module(project: Project) -> dict[str, tuple[Fixture, ...]]:
    return {}


def _imported_into(project: Project, path: str) -> Iterator[Fixture]:
    tree = project.ast(path)
    if tree is None:
        return
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        module = project.absolute_module(path, node.module, node.level)
        source = project.module_path(module) if module else None
        if source is None:
            continue
        names = {alias.name for alias in node.names}
        for fixture in fixtures_in(project, source):
            if fixture.node.name in names or ("*" in names and not fixture.name.startswith("_")):
                yield fixture


def _defined_in(project: Project, path: str) -> Iterator[Fixture]:
    tree = project.ast(path)
    if tree is None:
        return
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            decorator = next((d for d in node.decorator_list if _is_fixture_decorator(d)), None)
            if decorator is not None:
                options = _keywords(decorator)
                name = options.get("name", node.name)
                scope = options.get("scope", "function")
                yield Fixture(
                    name if isinstance(name, str) else node.name,
                    path,
                    node.lineno,
                    scope if isinstance(scope, str) else None,
                    _yields_in_context(node) or _pushes_before_giving(node),
                    node,
                )


@dataclass(frozen=True)
class KeptContext:
    """A context a fixture makes and keeps but never pushes (``ctx = app.test_request_context()``
    with its ``ctx.push()`` gone, the ``ctx.pop()`` after the ``yield`` perhaps still there): the
    suite was written to run inside it, so its tests' failures are that fixture's."""

    fixture: Fixture
    #: The name the context is kept under.
    name: str
    #: The line of the statement that makes it.
    line: int
    #: Whether the fixture pops it already (after its ``yield``, or ``request.addfinalizer``).
    popped: bool
    #: The 1-based column of that statement.
    column: int = 1
    #: Whether it is a request context (``test_request_context()``), which ``request`` and
    #: ``url_for`` need too, not only an app context.
    request: bool = False

    @property
    def location(self) -> Location:
        """Where the fix goes, and where a scan reports it, whichever test failed."""
        return Location(self.fixture.path, self.line, self.column)

    def describe(self) -> str:
        where = f"{self.fixture.path}:{self.fixture.line}"
        return (
            f"The `{self.fixture.name}` fixture ({where}) makes `{self.name}` but never pushes it"
        )


def context_source(project: Project, fixture: Fixture) -> Fixture | None:
    """The fixture that pushes the context ``fixture`` gives a test: itself, or one it requests
    (through any number of fixtures); ``None`` when none does."""
    return next((f for f in requested_chain(project, fixture) if f.pushes), None)


def kept_context(project: Project, fixtures: Iterable[Fixture]) -> KeptContext | None:
    """The first of ``fixtures``, or of those they request, that keeps a context it never
    pushes, when none of them pushes one."""
    chain = [f for fixture in fixtures for f in requested_chain(project, fixture)]
    if any(fixture.pushes for fixture in chain):
        return None
    return next(filter(None, map(_kept_unpushed, chain)), None)


def requested_chain(project: Project, fixture: Fixture) -> Iterator[Fixture]:
    """``fixture``, then the fixtures it requests, through any number of them, nearest first.

    A fixture's own arguments are looked up from the file that defines it, as pytest does; an
    argument with the fixture's own name is the definition it overrides, further up.
    """
    seen: set[tuple[str, int]] = set()
    pending = [fixture]
    while pending:
        current = pending.pop(0)
        if (current.path, current.line) in seen:
            continue
        seen.add((current.path, current.line))
        yield current
        for argument in _arguments(current.node):
            found = _resolve(project, current, argument)
            if found is not None:
                pending.append(found)


def _kept_unpushed(fixture: Fixture) -> KeptContext | None:
    """``ctx = <app>.app_context()`` (or a request context) among the statements ``fixture``
    runs before it gives its value, when nothing but ``ctx.pop`` ever reads ``ctx``."""
    if fixture.pushes:
        return None
    for statement in fixture.node.body:
        if any(
            isinstance(node, ast.Yield | ast.YieldFrom | ast.Return)
            for node in _own_nodes_of([statement])
        ):
            return None
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and is_context_call(statement.value, with_client=False)
        ):
            name = statement.targets[0].id
            reads = _reads_of(fixture.node, name, statement)
            if reads is not None and all(_is_pop(read) for read in reads):
                return KeptContext(
                    fixture,
                    name,
                    statement.lineno,
                    bool(reads),
                    statement.col_offset + 1,
                    _makes_request_context(statement.value),
                )
    return None


def _reads_of(function: ast.FunctionDef, name: str, assignment: ast.Assign) -> list[ast.AST] | None:
    """The parents of each read of ``name`` in ``function``; ``None`` when another statement
    binds it too."""
    reads: list[ast.AST] = []
    for parent in walk(function):
        for child in child_nodes(parent):
            if isinstance(child, ast.Name) and child.id == name:
                if isinstance(child.ctx, ast.Load):
                    reads.append(parent)
                elif parent is not assignment:
                    return None
    return reads


def _makes_request_context(call: ast.expr) -> bool:
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in ("test_request_context", "request_context")
    )


def _is_pop(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "pop"


def _resolve(project: Project, fixture: Fixture, name: str) -> Fixture | None:
    files = visible_files(project, fixture.path)
    if name == fixture.name:
        files = files[files.index(fixture.path) + 1 :] if fixture.path in files else []
    for path in files:
        for candidate in fixtures_in(project, path):
            if candidate.name == name:
                return candidate
    return None


def _arguments(function: ast.FunctionDef) -> list[str]:
    arguments = function.args
    return [
        a.arg
        for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        if a.arg not in ("self", "request")
    ]


def declares_plugins(project: Project, test_path: str) -> str | None:
    """The file among those the test sees that sets ``pytest_plugins``, if any."""
    for path in visible_files(project, test_path):
        tree = project.ast(path)
        if tree is not None and any(
            isinstance(node, ast.Assign | ast.AnnAssign)
            and any(
                isinstance(target, ast.Name) and target.id == "pytest_plugins"
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            )
            for node in tree.body
        ):
            return path
    return None


def uses_pytest_flask(project: Project) -> str | None:
    """A file that names pytest-flask (a dependency list, ``pytest_plugins``), if any."""
    for path, text in sorted(project.files.items()):
        if any(mark in text for mark in PYTEST_FLASK_MARKS):
            return path
    return None


def parametrized_names(function: ast.FunctionDef) -> set[str]:
    """The argument names ``@pytest.mark.parametrize`` gives ``function``."""
    names: set[str] = set()
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "parametrize"
            and decorator.args
        ):
            first = decorator.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.update(n.strip() for n in first.value.split(",") if n.strip())
            elif isinstance(first, ast.List | ast.Tuple):
                names.update(
                    e.value
                    for e in first.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                )
    return names


#: ``yield_fixture``: pytest's old name for a fixture that yields, still in older suites
#: (flask-realworld-example-app's conftest).
_FIXTURE_DECORATORS = ("fixture", "yield_fixture")


def _is_fixture_decorator(node: ast.expr) -> bool:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return (
            func.attr in _FIXTURE_DECORATORS
            and isinstance(func.value, ast.Name)
            and (func.value.id == "pytest")
        )
    return isinstance(func, ast.Name) and func.id in _FIXTURE_DECORATORS


def _keywords(decorator: ast.expr) -> dict[str, object]:
    if not isinstance(decorator, ast.Call):
        return {}
    return {
        keyword.arg: keyword.value.value if isinstance(keyword.value, ast.Constant) else None
        for keyword in decorator.keywords
        if keyword.arg is not None
    }


def _yields_in_context(function: ast.FunctionDef) -> bool:
    for node in _own_nodes(function):
        if isinstance(node, ast.With) and any(
            is_context_call(item.context_expr, with_client=False) for item in node.items
        ):
            if any(isinstance(inner, ast.Yield | ast.YieldFrom) for inner in walk(node)):
                return True
    return False


def _pushes_before_giving(function: ast.FunctionDef) -> bool:
    """Whether ``function`` pushes a context in its top-level statements before the first that
    yields or returns (``ctx.push(); yield app; ctx.pop()``, or ``request.addfinalizer(ctx.pop)``
    then ``return app``)."""
    for index, statement in enumerate(function.body):
        if any(
            isinstance(node, ast.Yield | ast.YieldFrom | ast.Return)
            for node in _own_nodes_of([statement])
        ):
            return pushes_app_context(function.body[:index])
    return pushes_app_context(function.body)


def _own_nodes(function: ast.FunctionDef) -> Iterator[ast.AST]:
    return _own_nodes_of(function.body)


def _own_nodes_of(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    pending: list[ast.AST] = list(statements)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(child_nodes(node))
