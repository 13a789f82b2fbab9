"""How a project makes its Flask app, read from its code: the factory or instance to import.

A fix that pushes a context needs an app object. The right one is the app the project already
makes, made the way the project makes it: ``create_app(os.getenv("FLASK_CONFIG") or "default")``
as ``manage.py`` calls it, imported as ``from app import create_app`` as the project's other
modules import it. Creating a differently configured app, or a second app where one is already in
scope, is a wrong fix (docs/context-errors.md §3.2), so every answer here is timid: ``None``
whenever the project does not say clearly.

Everything reads a ``Project``; nothing imports or runs the user's code.
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import NOT_PROJECT_DIRS
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_parts
from tracefix.diagnose.project import per_project

#: Files that start a program, in the order their factory calls are trusted.
ENTRY_FILE_NAMES = (
    "wsgi.py",
    "manage.py",
    "run.py",
    "app.py",
    "application.py",
    "main.py",
    "server.py",
    "autoapp.py",
    "__main__.py",
)
#: Methods of a Flask app whose ``with`` block has an app context.
CONTEXT_METHODS = frozenset({"app_context", "test_request_context", "request_context"})
#: Also counted as "inside a context": ``with app.test_client():`` keeps the last request's.
CLIENT_METHODS = frozenset({"test_client"})
#: Decorators that run a function inside an app context.
CONTEXT_DECORATORS = frozenset({"with_appcontext"})
#: Methods ``unittest`` and pytest run before each test of a class (or once for the class).
TEST_SET_UP_METHODS = frozenset(
    {"setUp", "asyncSetUp", "setUpClass", "setup_method", "setup_class", "setup"}
)

_TEST_DIRS = frozenset({"test", "tests", "testing"})
_BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class AppSource:
    """Where a fix gets the project's Flask app from, and the code that gets it."""

    kind: Literal["factory", "instance"]
    #: The dotted module the project imports it from (``"app"``, ``"myproj.web"``).
    module: str
    #: The factory's or the instance's name in ``module``.
    name: str
    #: The file that defines it.
    path: str
    #: The expression that gives the app: the project's own factory call, or the instance's name.
    call: str
    #: Import statements the call's arguments need (``("import os",)``), absolute.
    imports: tuple[str, ...] = ()

    @property
    def import_statement(self) -> str:
        return f"from {self.module} import {self.name}"


def find_app_source(project: Project, *, near: str | None = None) -> AppSource | None:
    """The project's Flask factory (preferred) or module-level instance; ``None`` when unclear.

    ``near`` is the file the fix will edit. It picks between several apps (the one in the same
    package, or the one its imports point to), rules out any source whose import would run
    ``near`` itself, and decides which factory calls to copy: a test file gets the call its tests
    make (test configuration), any other file the call an entry file such as ``wsgi.py`` or
    ``manage.py`` makes, then any non-test module's, then ``name()`` when every parameter has a
    default. A call whose arguments use names an import cannot carry is passed over.
    """
    index = _Index(project)
    for kind, candidates in (("factory", index.factories()), ("instance", index.instances())):
        safe = [c for c in candidates if not index.imports_run(c.path, near)]
        chosen = _nearest(index, safe, near)
        if chosen is None:
            if safe:
                return None
            continue
        module = index.import_form(chosen.path, chosen.name)
        if module is None or index.imports_run(project.module_path(module) or "", near):
            return None
        if kind == "instance":
            return AppSource("instance", module, chosen.name, chosen.path, chosen.name)
        call = index.factory_call(chosen, near)
        if call is None:
            return None
        text, imports = call
        if any(
            index.imports_run(index.project.module_path(m) or "", near)
            for m in _imported_modules(imports)
        ):
            return None
        return AppSource("factory", module, chosen.name, chosen.path, text, imports)
    return None


def factory_defined_in(
    project: Project, path: str, *, before_line: int | None = None
) -> str | None:
    """A factory ``path`` itself defines at module level and that needs no argument, or ``None``.

    A single-file app run as a script (``python app.py``) calls its own factory: no import.
    """
    index = _Index(project)
    for factory in index.factories():
        if factory.path == path and factory.callable_bare:
            if before_line is None or factory.line < before_line:
                return factory.name
    return None


def app_name_in_scope(project: Project, path: str, *, before_line: int | None = None) -> str | None:
    """A module-level name in ``path`` bound to the project's Flask app, or ``None``.

    Counts ``name = Flask(...)``, ``name = <factory>(...)`` and ``from <module> import name``
    where that module keeps its app in ``name``; at the top level or in its ``if``, ``try`` and
    ``with`` blocks (the ``if __name__ == "__main__":`` block among them). With
    ``before_line``, only bindings made before it. A name rebound later to something else no
    longer counts.
    """
    index = _Index(project)
    tree = project.ast(path)
    if tree is None:
        return None
    bound: dict[str, bool] = {}
    for statement in module_level_statements(tree):
        if before_line is not None and statement.lineno >= before_line:
            break
        for name, is_app in index.bindings(path, statement):
            bound[name] = is_app
    names = [name for name, is_app in bound.items() if is_app]
    return names[-1] if names else None


def unreadable_imports(project: Project, path: str) -> list[tuple[str, str]]:
    """The ``(name, module)`` of each module-level ``from module import name`` of ``path`` from
    a project module that binds ``name`` only when it runs: in a module ``__getattr__`` (PEP
    562) or through ``global name`` in a function (zou's ``from zou.app import app``, made by
    ``create_app()``). What such a name is, the code does not say: it may be the app."""
    tree = project.ast(path)
    found: list[tuple[str, str]] = []
    for statement in module_level_statements(tree) if tree is not None else ():
        if not isinstance(statement, ast.ImportFrom):
            continue
        module = project.absolute_module(path, statement.module, statement.level)
        source = project.module_path(module) if module else None
        source_tree = project.ast(source) if source else None
        if module is None or source_tree is None:
            continue
        dynamic = _names_bound_when_run(source_tree)
        bound = {n for s in module_level_statements(source_tree) for n in _bound_names(s)}
        for alias in statement.names:
            if alias.name not in bound and (alias.name in dynamic or "__getattr__" in bound):
                if project.module_path(f"{module}.{alias.name}") is None:
                    found.append((alias.asname or alias.name, module))
    return found


def _names_bound_when_run(tree: ast.Module) -> set[str]:
    """The names a module's functions declare ``global``: bound when those run."""
    return {name for node in walk(tree) if isinstance(node, ast.Global) for name in node.names}


def makes_app(project: Project, path: str, value: ast.expr | None) -> bool:
    """Whether ``value``, in ``path``, makes a Flask app: ``Flask(...)``, or a call of one of
    the project's factories (or of a helper that returns what one made)."""
    index = _Index(project)
    return index.flask_names(path).is_constructor_call(value) or index.calls_factory(path, value)


def inside_app_context(project: Project, path: str, line: int) -> bool:
    """Whether the statement at ``line`` of ``path`` already runs with an app context.

    True inside ``with x.app_context():``, ``x.test_request_context(...)``,
    ``x.request_context(...)`` or ``x.test_client()``; in a function decorated with
    ``@with_appcontext``; after an ``x.app_context().push()`` earlier in an enclosing block; and
    in a method of a test class whose set-up method (``setUp``, ``setup_method``...) pushes one,
    as ``unittest`` suites do (``self.app_context = self.app.app_context()``, then ``.push()``).
    """
    tree = project.ast(path)
    if tree is None:
        return False
    for block, index in _enclosing_blocks(tree, line):
        statement = block[index]
        if isinstance(statement, ast.ClassDef) and set_up_pushes(statement):
            return True
        if isinstance(statement, ast.With | ast.AsyncWith) and statement.lineno < line:
            if any(is_context_call(item.context_expr) for item in statement.items):
                return True
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if pushes_by_decorator(statement):
                return True
        if _pushes_before(block[:index]):
            return True
    return False


def pushes_by_decorator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a decorator of ``function`` runs it in an app context (``@with_appcontext``)."""
    return any(_last_name(d) in CONTEXT_DECORATORS for d in function.decorator_list)


def is_context_call(node: ast.expr, *, with_client: bool = True) -> bool:
    """Whether ``node`` is ``<x>.app_context()`` or another call that makes an app context."""
    methods = CONTEXT_METHODS | CLIENT_METHODS if with_client else CONTEXT_METHODS
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in methods
    )


@functools.lru_cache(maxsize=8192)
def is_test_path(path: str) -> bool:
    """Remembered: a scan asks it of every file, for every recipe."""
    parts = path_parts(path)
    name = parts[-1] if parts else ""
    return (
        bool(_TEST_DIRS.intersection(parts[:-1]))
        or name == "conftest.py"
        or name.startswith("test_")
        or name.endswith("_test.py")
    )


def is_main_guard(node: ast.stmt) -> bool:
    """Whether ``node`` is ``if __name__ == "__main__":`` (either operand order)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    operands = {_operand(test.left), _operand(test.comparators[0])}
    return operands == {"name", "main"}


def pushes_app_context(statements: list[ast.stmt]) -> bool:
    """Whether running ``statements`` in order leaves an app context pushed.

    Counts ``x.app_context().push()`` (or ``test_request_context``, ``request_context``), also
    through a name or an attribute (``ctx = app.app_context()``, then ``ctx.push()``), as set-up
    methods and push/pop-style pytest fixtures do before their ``yield``. A later ``ctx.pop()``
    of that name cancels it. Only these statements themselves count, not nested blocks.
    """
    return _pushes_before(statements)


def app_name_at(project: Project, path: str, line: int) -> str | None:
    """A name bound to the project's Flask app where ``line`` of ``path`` runs, or ``None``.

    Inside a top-level function: a local bound before ``line`` to ``Flask(...)`` or a factory
    call (``app = create_app()`` in ``create_app`` itself, or in a worker's ``main``), or a
    parameter annotated ``Flask``; else the module's app (``app_name_in_scope``) unless a
    parameter or a local hides it. Outside functions: the module's app bound before ``line``.
    A fix that hands the app to code run later (a job, an exit handler) passes this name.
    """
    tree = project.ast(path)
    if tree is None:
        return None
    function = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
        ),
        None,
    )
    if function is None:
        return app_name_in_scope(project, path, before_line=line)
    index = _Index(project)
    flask = index.flask_names(path)
    module_app = app_name_in_scope(project, path, before_line=function.lineno)
    bound: dict[str, bool] = {}
    arguments = function.args
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        bound[arg.arg] = arg.annotation is not None and flask.is_class(arg.annotation)
    for star in (arguments.vararg, arguments.kwarg):
        if star is not None:
            bound[star.arg] = False
    statements = sorted(
        (
            node
            for node in _walk_own_body(function)
            if isinstance(node, ast.stmt) and node.lineno < line
        ),
        key=lambda node: (node.lineno, node.col_offset),
    )
    for statement in statements:
        for name, is_app in index.bindings(path, statement):
            bound[name] = is_app
    names = [name for name, is_app in bound.items() if is_app]
    if names:
        return names[-1]
    return module_app if module_app is not None and module_app not in bound else None


# --- the project index --------------------------------------------------------------------


@dataclass(frozen=True)
class _Definition:
    path: str
    name: str
    line: int
    #: For a factory: whether it can be called with no argument.
    callable_bare: bool = True


@dataclass(frozen=True)
class _CallSite:
    path: str
    text: str
    imports: tuple[str, ...]


class _Index:
    """Lazy, per-call views of a project: Flask names, definitions, imports."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._flask: dict[str, _FlaskNames] = {}
        self._origins: dict[tuple[str, str], tuple[str, str] | None] = {}

    def flask_names(self, path: str) -> _FlaskNames:
        if path not in self._flask:
            tree = self.project.ast(path)
            self._flask[path] = _FlaskNames.of(tree) if tree is not None else _FlaskNames()
        return self._flask[path]

    def files(self, mentioning: str | None = None) -> Iterator[tuple[str, ast.Module]]:
        """The project's parsed Python files; with ``mentioning``, only those whose text has it.

        The text test comes first, so a large project parses only the files that can matter.
        """
        for path in self.project.python_files_outside(NOT_PROJECT_DIRS):
            if mentioning is not None and mentioning not in (self.project.source(path) or ""):
                continue
            tree = self.project.ast(path)
            if tree is not None:
                yield path, tree

    def factories(self) -> list[_Definition]:
        return list(_factories(self.project))

    def instances(self) -> list[_Definition]:
        return list(_instances(self.project))

    def is_factory(self, path: str, name: str, depth: int = 0) -> bool:
        """Whether ``path``'s top-level function ``name`` returns a Flask app: one it builds,
        or one a factory builds for it (a test helper's ``app = create_app(config)``, set up
        further and returned, as CTFd's ``create_ctfd``)."""
        tree = self.project.ast(path)
        flask = self.flask_names(path)
        for node in tree.body if tree is not None else ():
            if isinstance(node, ast.FunctionDef) and node.name == name:
                if flask and _returns_flask_app(node, flask):
                    return True
                if depth < 3 and self._returns_factory_made(path, node, depth + 1):
                    return True
        return False

    def _returns_factory_made(self, path: str, function: ast.FunctionDef, depth: int) -> bool:
        made: set[str] = set()
        for node in _walk_own_body(function):
            target = _assigned_name(node) if isinstance(node, ast.stmt) else None
            if target and self.calls_factory(path, _assigned_value(node), depth):
                made.add(target)
        return any(
            isinstance(node, ast.Return)
            and node.value is not None
            and (
                (isinstance(node.value, ast.Name) and node.value.id in made)
                or self.calls_factory(path, node.value, depth)
            )
            for node in _walk_own_body(function)
        )

    def bindings(self, path: str, statement: ast.stmt, depth: int = 0) -> list[tuple[str, bool]]:
        """The module-level names ``statement`` binds, each with whether it is now the app."""
        flask = self.flask_names(path)
        target = _assigned_name(statement)
        if target is not None:
            value = _assigned_value(statement)
            return [(target, flask.is_constructor_call(value) or self.calls_factory(path, value))]
        if isinstance(statement, ast.ImportFrom):
            result = []
            module = self.project.absolute_module(path, statement.module, statement.level)
            for alias in statement.names:
                bound = alias.asname or alias.name
                origin = self.origin(module, alias.name) if module else None
                is_app = (
                    origin is not None and depth < 3 and self._is_instance_at(origin, depth + 1)
                )
                result.append((bound, is_app))
            return result
        return [(name, False) for name in _bound_names(statement)]

    def _is_instance_at(self, origin: tuple[str, str], depth: int) -> bool:
        path, name = origin
        tree = self.project.ast(path)
        if tree is None:
            return False
        holds = False
        for statement in module_level_statements(tree):
            for bound, is_app in self.bindings(path, statement, depth=depth):
                if bound == name:
                    holds = is_app
        return holds

    def calls_factory(self, path: str, value: ast.expr | None, depth: int = 0) -> bool:
        if not isinstance(value, ast.Call):
            return False
        origin = self.callee_origin(path, value.func)
        return origin is not None and self.is_factory(*origin, depth=depth)

    def callee_origin(self, path: str, func: ast.expr) -> tuple[str, str] | None:
        """The (file, top-level name) a called name or ``module.name`` refers to."""
        tree = self.project.ast(path)
        if tree is None:
            return None
        if isinstance(func, ast.Name):
            for statement in module_level_statements(tree):
                if isinstance(statement, ast.ImportFrom):
                    module = self.project.absolute_module(path, statement.module, statement.level)
                    for alias in statement.names:
                        if (alias.asname or alias.name) == func.id and module:
                            return self.origin(module, alias.name)
                elif isinstance(statement, ast.FunctionDef) and statement.name == func.id:
                    return path, func.id
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            for statement in module_level_statements(tree):
                if isinstance(statement, ast.Import):
                    for alias in statement.names:
                        if alias.asname == func.value.id or (
                            alias.asname is None and alias.name == func.value.id
                        ):
                            return self.origin(alias.name, func.attr)
                elif isinstance(statement, ast.ImportFrom):
                    # ``from lemur import factory``, then ``factory.create_app(...)``.
                    module = self.project.absolute_module(path, statement.module, statement.level)
                    for alias in statement.names:
                        submodule = f"{module}.{alias.name}"
                        if (alias.asname or alias.name) == func.value.id and module:
                            if self.project.module_path(submodule) is not None:
                                return self.origin(submodule, func.attr)
        return None

    def origin(self, module: str, name: str, depth: int = 0) -> tuple[str, str] | None:
        """Where ``from module import name`` finds its object: (defining file, its name there)."""
        key = (module, name)
        if key not in self._origins:
            self._origins[key] = None  # a re-export cycle resolves to nothing
            self._origins[key] = self._find_origin(module, name, depth)
        return self._origins[key]

    def _find_origin(self, module: str, name: str, depth: int) -> tuple[str, str] | None:
        path = self.project.module_path(module)
        if path is None or depth > 4:
            return None
        tree = self.project.ast(path)
        if tree is None:
            return None
        found: tuple[str, str] | None = None
        for statement in module_level_statements(tree):
            if isinstance(statement, ast.ImportFrom):
                source = self.project.absolute_module(path, statement.module, statement.level)
                for alias in statement.names:
                    if (alias.asname or alias.name) == name and source:
                        found = self.origin(source, alias.name, depth + 1)
            elif name in _bound_names(statement) or _assigned_name(statement) == name:
                found = (path, name)
        return found

    def import_form(self, path: str, name: str) -> str | None:
        """The module the project imports ``name`` of ``path`` from: entry files first."""
        seen: dict[str, tuple[float, int]] = {}
        for file, tree in self.files(mentioning=name):
            for statement in module_level_statements(tree, into_functions=True):
                if not isinstance(statement, ast.ImportFrom) or statement.level:
                    continue
                if statement.module is None:
                    continue
                for alias in statement.names:
                    if self.origin(statement.module, alias.name) == (path, name):
                        rank = _file_rank(file, near_is_test=False)
                        best, count = seen.get(statement.module, (rank, 0))
                        seen[statement.module] = (min(best, rank), count + 1)
        if seen:
            return min(seen, key=lambda module: (seen[module][0], -seen[module][1], module))
        return self.project.module_name(path)

    def factory_call(
        self, factory: _Definition, near: str | None
    ) -> tuple[str, tuple[str, ...]] | None:
        near_is_test = near is not None and is_test_path(near)
        sites = sorted(
            self.call_sites(factory),
            key=lambda site: (_file_rank(site.path, near_is_test), site.path),
        )
        for site in sites:
            if is_test_path(site.path) and not near_is_test and site.text != f"{factory.name}()":
                continue
            return site.text, site.imports
        if factory.callable_bare:
            return f"{factory.name}()", ()
        return None

    def call_sites(self, factory: _Definition) -> Iterator[_CallSite]:
        """The project's calls of ``factory`` whose arguments an import can carry elsewhere.
        An argument that is a parameter of the function around the call counts as that
        parameter's default, which a bare call of that function passes: CTFd's tests get their
        app from ``create_ctfd(..., config=TestingConfig)``, which calls ``create_app(config)``."""
        for path, tree in self.files(mentioning=factory.name):
            for call, scope_names, defaults in _calls_with_scopes(tree):
                if self.callee_origin(path, call.func) != (factory.path, factory.name):
                    continue
                call = _with_defaults(call, defaults)
                carried = self._carry(path, tree, call, scope_names)
                if carried is not None:
                    arguments = _argument_text(self.project.source(path) or "", call)
                    if arguments is not None:
                        yield _CallSite(path, f"{factory.name}({arguments})", carried)

    def _carry(
        self, path: str, tree: ast.Module, call: ast.Call, local_names: frozenset[str]
    ) -> tuple[str, ...] | None:
        """The imports the call's arguments need; ``None`` if one name cannot be imported."""
        imports: list[str] = []
        for name in sorted(_free_names(call)):
            if name in local_names:
                return None
            statement = _import_of(self.project, path, tree, name)
            if statement is None:
                if name in _BUILTIN_NAMES:
                    continue
                return None
            if statement not in imports:
                imports.append(statement)
        return tuple(imports)

    def imports_run(self, path: str, near: str | None) -> bool:
        """Whether importing ``path`` would run the file ``near`` (the failing code)."""
        if near is None or not path:
            return False
        if path == near:
            return True
        module = self.project.module_name(path)
        return module is not None and near in self.import_closure(module)

    def import_closure(self, module: str) -> set[str]:
        """Every project file that importing ``module`` runs, its parent packages included."""
        seen: set[str] = set()
        pending = [module]
        while pending:
            current = pending.pop()
            for name in _with_parents(current):
                file = self.project.module_path(name)
                if file is None or file in seen:
                    continue
                seen.add(file)
                tree = self.project.ast(file)
                if tree is not None:
                    pending.extend(_modules_imported_by(self.project, file, tree))
        return seen


@per_project
def _factories(project: Project) -> tuple[_Definition, ...]:
    """The project's Flask factories, found once per project: ``find_app_source`` asks for
    them for every command and task a detector plans a fix for."""
    return tuple(
        _Definition(path, node.name, node.lineno, _callable_bare(node))
        for path, tree, flask in _app_files(project)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and _returns_flask_app(node, flask)
    )


@per_project
def _instances(project: Project) -> tuple[_Definition, ...]:
    """The project's module-level Flask apps, found once per project, like ``_factories``."""
    return tuple(
        _Definition(path, target, node.lineno)
        for path, tree, flask in _app_files(project)
        for node in tree.body
        if (target := _assigned_name(node)) and flask.is_constructor_call(_assigned_value(node))
    )


def _app_files(project: Project) -> Iterator[tuple[str, ast.Module, _FlaskNames]]:
    """The files, tests aside, that import something of Flask's, with what they import."""
    index = _Index(project)
    for path, tree in index.files(mentioning="Flask"):
        if not is_test_path(path):
            flask = index.flask_names(path)
            if flask:
                yield path, tree, flask


def _nearest(index: _Index, candidates: list[_Definition], near: str | None) -> _Definition | None:
    """The one candidate, or the one ``near`` is closest to by package; ``None`` on a tie."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if near is None:
        return None
    project = index.project
    anchors = set()
    near_module = project.module_name(near)
    if near_module:
        anchors.add(near_module)
    tree = project.ast(near)
    if tree is not None:
        anchors.update(_modules_imported_by(project, near, tree))
    scores: dict[int, list[_Definition]] = {}
    for candidate in candidates:
        module = project.module_name(candidate.path) or ""
        score = max((_common_prefix(module, anchor) for anchor in anchors), default=0)
        scores.setdefault(score, []).append(candidate)
    best = max(scores)
    return scores[best][0] if best > 0 and len(scores[best]) == 1 else None


# --- reading code -------------------------------------------------------------------------


class _FlaskNames:
    """The names a module can construct a Flask app with: ``Flask``, ``flask.Flask``, subclasses."""

    def __init__(
        self, classes: frozenset[str] = frozenset(), modules: frozenset[str] = frozenset()
    ):
        self.classes = classes
        self.modules = modules

    def __bool__(self) -> bool:
        return bool(self.classes or self.modules)

    @classmethod
    def of(cls, tree: ast.Module) -> _FlaskNames:
        classes: set[str] = set()
        modules: set[str] = set()
        for statement in module_level_statements(tree, into_functions=True):
            if isinstance(statement, ast.ImportFrom) and statement.module == "flask":
                classes.update(a.asname or a.name for a in statement.names if a.name == "Flask")
            elif isinstance(statement, ast.Import):
                modules.update(a.asname or a.name for a in statement.names if a.name == "flask")
        names = cls(frozenset(classes), frozenset(modules))
        subclasses = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        changed = bool(names)
        while changed:
            changed = False
            for node in subclasses:
                if node.name not in names.classes and any(
                    names.is_class(base) for base in node.bases
                ):
                    names = cls(names.classes | {node.name}, names.modules)
                    changed = True
        return names

    def is_class(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.classes
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "Flask"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.modules
        )

    def is_constructor_call(self, node: ast.expr | None) -> bool:
        return isinstance(node, ast.Call) and self.is_class(node.func)


def _returns_flask_app(function: ast.FunctionDef, flask: _FlaskNames) -> bool:
    """Whether ``function`` builds a Flask app and returns it."""
    app_names = set()
    returned: list[ast.expr] = []
    for node in _walk_own_body(function):
        target = _assigned_name(node) if isinstance(node, ast.stmt) else None
        if target and flask.is_constructor_call(_assigned_value(node)):
            app_names.add(target)
        if isinstance(node, ast.Return) and node.value is not None:
            returned.append(node.value)
    return any(
        flask.is_constructor_call(value) or (isinstance(value, ast.Name) and value.id in app_names)
        for value in returned
    )


def _walk_own_body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """Nodes of ``function``'s body, not descending into nested functions, classes or lambdas."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(child_nodes(node))


def _callable_bare(function: ast.FunctionDef) -> bool:
    args = function.args
    positional = args.posonlyargs + args.args
    required_positional = len(positional) - len(args.defaults)
    required_keyword = sum(1 for default in args.kw_defaults if default is None)
    return required_positional <= 0 and required_keyword == 0


def module_level_statements(
    tree: ast.Module, *, into_functions: bool = False
) -> Iterator[ast.stmt]:
    """Statements that run when the module runs: the top level and its ``if``, ``try`` and
    ``with`` blocks, in order.

    ``into_functions`` adds function bodies, for questions about imports anywhere in a file.
    """
    pending: list[ast.stmt] = list(reversed(tree.body))
    while pending:
        statement = pending.pop()
        yield statement
        children: list[ast.stmt] = []
        if isinstance(statement, ast.If):
            children = statement.body + statement.orelse
        elif isinstance(statement, ast.Try | ast.TryStar):
            children = (
                statement.body
                + [s for handler in statement.handlers for s in handler.body]
                + statement.orelse
                + statement.finalbody
            )
        elif isinstance(statement, ast.With):
            children = statement.body
        elif into_functions and isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            children = statement.body
        pending.extend(reversed(children))


def _assigned_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return node.target.id if isinstance(node.target, ast.Name) else None
    return None


def _assigned_value(node: ast.AST) -> ast.expr | None:
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return node.value
    return None


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a simple statement binds in its own scope (not inside nested blocks)."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    if isinstance(statement, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in statement.names}
    if isinstance(statement, ast.ImportFrom):
        return {alias.asname or alias.name for alias in statement.names}
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.For | ast.AsyncFor):
        targets = [statement.target]
    elif isinstance(statement, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in statement.items if item.optional_vars]
    return {
        node.id
        for target in targets
        for node in walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def _modules_imported_by(project: Project, path: str, tree: ast.Module) -> Iterator[str]:
    """The modules ``path`` imports when it runs (not those imported inside functions)."""
    for statement in module_level_statements(tree):
        if isinstance(statement, ast.Import):
            yield from (alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            module = project.absolute_module(path, statement.module, statement.level)
            if module:
                yield module
                for alias in statement.names:
                    if project.module_path(f"{module}.{alias.name}"):
                        yield f"{module}.{alias.name}"


def _import_of(project: Project, path: str, tree: ast.Module, name: str) -> str | None:
    """An absolute import statement, usable in any file, that binds ``name`` as ``path`` does."""
    found = None
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    found = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
        elif isinstance(statement, ast.ImportFrom):
            module = project.absolute_module(path, statement.module, statement.level)
            for alias in statement.names:
                if (alias.asname or alias.name) == name and module and alias.name != "*":
                    suffix = f" as {alias.asname}" if alias.asname else ""
                    found = f"from {module} import {alias.name}{suffix}"
        elif name in _bound_names(statement):
            found = None
    return found


def _imported_modules(statements: Iterable[str]) -> Iterator[str]:
    for statement in statements:
        node = ast.parse(statement).body[0]
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


#: A call, the names local to the functions around it, and the defaults of the parameters of
#: the innermost one that its body never rebinds.
_ScopedCall = tuple[ast.Call, frozenset[str], dict[str, ast.expr]]


def _calls_with_scopes(tree: ast.Module) -> Iterator[_ScopedCall]:
    """Every call in ``tree``, with the names local to the functions around it."""

    def visit(
        node: ast.AST, local: frozenset[str], defaults: dict[str, ast.expr]
    ) -> Iterator[_ScopedCall]:
        for child in child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(child, local | _function_locals(child), _kept_defaults(child))
            else:
                if isinstance(child, ast.Call):
                    yield child, local, defaults
                yield from visit(child, local, defaults)

    module_assigned = frozenset(
        name
        for statement in module_level_statements(tree)
        if not isinstance(statement, ast.Import | ast.ImportFrom)
        for name in _bound_names(statement)
    )
    yield from visit(tree, module_assigned, {})


def _kept_defaults(
    function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> dict[str, ast.expr]:
    """The defaults of ``function``'s parameters that its own body never rebinds."""
    args = function.args
    positional = args.posonlyargs + args.args
    pairs = list(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    pairs += [
        (arg, default)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if default is not None
    ]
    rebound = (
        set()
        if isinstance(function, ast.Lambda)
        else {
            node.id
            for node in _walk_own_body(function)
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
        }
    )
    return {arg.arg: default for arg, default in pairs if arg.arg not in rebound}


def _with_defaults(call: ast.Call, defaults: dict[str, ast.expr]) -> ast.Call:
    """``call`` with each argument that is just a parameter's name replaced by its default."""
    if not defaults:
        return call

    def value(node: ast.expr) -> ast.expr:
        return defaults.get(node.id, node) if isinstance(node, ast.Name) else node

    return ast.Call(
        func=call.func,
        args=[value(argument) for argument in call.args],
        keywords=[ast.keyword(arg=k.arg, value=value(k.value)) for k in call.keywords],
    )


def _function_locals(
    function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> frozenset[str]:
    args = function.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    if not isinstance(function, ast.Lambda):
        for node in _walk_own_body(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update(_bound_names(node))
    return frozenset(names)


def _free_names(call: ast.Call) -> set[str]:
    """The names the call's arguments read."""
    arguments: list[ast.AST] = [*call.args, *(keyword.value for keyword in call.keywords)]
    return {
        node.id
        for argument in arguments
        for node in walk(argument)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def _argument_text(source: str, call: ast.Call) -> str | None:
    parts = []
    for argument in call.args:
        text = ast.get_source_segment(source, argument)
        if text is None:
            return None
        parts.append(text)
    for keyword in call.keywords:
        text = ast.get_source_segment(source, keyword.value)
        if text is None:
            return None
        parts.append(f"{keyword.arg}={text}" if keyword.arg else f"**{text}")
    return ", ".join(parts)


def _file_rank(path: str, near_is_test: bool) -> float:
    """How much a factory call in ``path`` is trusted: lower is better."""
    if is_test_path(path):
        if not near_is_test:
            return 3
        return 0 if PurePosixPath(path).name == "conftest.py" else 0.5
    if PurePosixPath(path).name in ENTRY_FILE_NAMES:
        return 1 + ENTRY_FILE_NAMES.index(PurePosixPath(path).name) / 100
    return 2


def _enclosing_blocks(tree: ast.Module, line: int) -> list[tuple[list[ast.stmt], int]]:
    """The statement lists around ``line``, outermost first, with the index of its statement."""
    chain = []
    blocks: list[list[ast.stmt]] = [tree.body]
    while blocks:
        block = blocks.pop()
        for index, statement in enumerate(block):
            end = statement.end_lineno or statement.lineno
            first = min([statement.lineno, *(d.lineno for d in _decorators(statement))])
            if first <= line <= end:
                chain.append((block, index))
                blocks = [b for b in _child_blocks(statement) if _block_spans(b, line)]
                break
    return chain


def _decorators(statement: ast.stmt) -> list[ast.expr]:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.decorator_list
    return []


def _child_blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    blocks = []
    for field in ("body", "orelse", "finalbody"):
        value = getattr(statement, field, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            blocks.append(value)
    for handler in getattr(statement, "handlers", []):
        blocks.append(handler.body)
    for case in getattr(statement, "cases", []):
        blocks.append(case.body)
    return blocks


def _block_spans(block: list[ast.stmt], line: int) -> bool:
    return block[0].lineno <= line <= (block[-1].end_lineno or block[-1].lineno)


def set_up_pushes(cls: ast.ClassDef) -> bool:
    """Whether a set-up method of the test class ``cls`` pushes an app context for its tests."""
    return any(
        isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
        and statement.name in TEST_SET_UP_METHODS
        and _pushes_before(statement.body)
        for statement in cls.body
    )


def _pushes_before(statements: list[ast.stmt]) -> bool:
    """Whether one of ``statements`` pushes an app context (``x.app_context().push()``) that
    a later one does not pop.

    The context may be kept in a name or an attribute first: ``ctx = app.app_context()`` or
    ``self.app_context = self.app.app_context()``, then ``ctx.push()``.
    """
    contexts: set[str | None] = set()
    pushed = 0
    named: set[str] = set()
    for statement in statements:
        value = _assigned_value(statement)
        if value is not None and is_context_call(value, with_client=False):
            contexts.update(dotted_name(target) for target in _assign_targets(statement))
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            func = statement.value.func
            if not isinstance(func, ast.Attribute):
                continue
            name = dotted_name(func.value)
            if func.attr == "push":
                if is_context_call(func.value, with_client=False):
                    pushed += 1
                elif name is not None and name in contexts:
                    named.add(name)
            elif func.attr == "pop" and name is not None:
                named.discard(name)
    return bool(pushed or named)


def _assign_targets(statement: ast.stmt) -> list[ast.expr]:
    if isinstance(statement, ast.Assign):
        return statement.targets
    if isinstance(statement, ast.AnnAssign):
        return [statement.target]
    return []


def dotted_name(node: ast.expr) -> str | None:
    """``ctx`` or ``self.app_context``: a name or a chain of attributes on one, else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _operand(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name) and node.id == "__name__":
        return "name"
    if isinstance(node, ast.Constant) and node.value == "__main__":
        return "main"
    return None


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _common_prefix(a: str, b: str) -> int:
    count = 0
    for left, right in zip(a.split("."), b.split("."), strict=False):
        if left != right:
            break
        count += 1
    return count
