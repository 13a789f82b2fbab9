"""How a project sets Flask-SQLAlchemy up, read from its code alone.

Which ``SQLAlchemy()`` instances it makes, where each is registered on an app (``init_app`` or
``SQLAlchemy(app)``), which instance a name in a file refers to, and which files an import runs.
CTX111 (an instance the app never registered) and CTX110 (``db.create_all()`` at import time,
moved to where ``db`` is registered) both need these answers, and both must be timid: every
function returns ``None`` or an empty answer where the code does not say clearly.

Names are resolved the way Python binds them: a function's own imports and assignments first
(``from .extensions import db`` inside ``create_app``), then the module's, following
``from x import y`` re-exports through packages. A name bound at run time is not followed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass

from tracefix.diagnose.apps import dotted_name
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.apps import module_level_statements
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import NOT_PROJECT_DIRS
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project

#: The extension's class, as ``from flask_sqlalchemy import SQLAlchemy`` names it.
EXTENSION_MODULE = "flask_sqlalchemy"
EXTENSION_CLASS = "SQLAlchemy"

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Instance:
    """One module-level ``name = SQLAlchemy(...)``."""

    path: str
    name: str
    line: int
    #: 1-based, as editors show it.
    column: int
    #: The constructor's arguments as written (``""`` for ``SQLAlchemy()``).
    arguments: str
    #: The app passed to the constructor (``SQLAlchemy(app)``), which registers it there.
    app_argument: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.path, self.name)


@dataclass(frozen=True)
class Registration:
    """Where an instance is registered on an app: ``db.init_app(app)`` or ``SQLAlchemy(app)``."""

    path: str
    line: int
    #: The instance's name in that file (``db``), and the app's (``app``).
    db_name: str
    app_name: str
    #: The top-level function whose own body holds the call (a factory), else ``None``.
    function: str | None
    #: The call's index among that body's statements (or the module's, at module level);
    #: ``None`` when it sits deeper, in an ``if`` or a loop.
    index: int | None


def project_files(
    project: Project, mentioning: str | None = None
) -> Iterator[tuple[str, ast.Module]]:
    """The project's parsed Python files, outside virtualenvs; with ``mentioning``, only those
    whose text has it (a cheap test before parsing)."""
    for path in project.python_files_outside(NOT_PROJECT_DIRS):
        if mentioning is not None and mentioning not in (project.source(path) or ""):
            continue
        tree = project.ast(path)
        if tree is not None:
            yield path, tree


@per_project
def instances(project: Project) -> list[Instance]:
    """Every module-level ``SQLAlchemy(...)`` instance of the project, tests included."""
    found = []
    for path, tree in project_files(project, mentioning=EXTENSION_CLASS):
        classes = _extension_classes(tree)
        if not classes:
            continue
        source = project.source(path) or ""
        for statement in module_level_statements(tree):
            if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
                continue
            target, value = statement.targets[0], statement.value
            if not isinstance(target, ast.Name) or not _is_call_of(value, classes):
                continue
            assert isinstance(value, ast.Call)
            found.append(
                Instance(
                    path,
                    target.id,
                    statement.lineno,
                    statement.col_offset + 1,
                    _arguments_text(source, value),
                    _app_argument(value),
                )
            )
    return found


def resolve(
    project: Project, path: str, name: str, scopes: Sequence[FunctionNode] = ()
) -> tuple[str, str] | None:
    """The (file, module-level name) that ``name`` refers to in ``path``.

    ``scopes`` are the functions around the use, innermost first: their own imports and
    assignments shadow the module's. ``None`` for a local variable, a builtin, a library
    object or anything not bound where the code says.
    """
    for scope in scopes:
        binding = _binding(project, path, list(_own_statements(scope)), name, last=False)
        if binding is not None:
            return binding if binding != _LOCAL else None
    resolved = _module_level_resolved(project)
    if (path, name) not in resolved:
        tree = project.ast(path)
        statements = list(module_level_statements(tree)) if tree is not None else []
        binding = _binding(project, path, statements, name, last=True)
        resolved[path, name] = binding if binding not in (None, _LOCAL) else None
    return resolved[path, name]


@per_project
def _module_level_resolved(project: Project) -> dict[tuple[str, str], tuple[str, str] | None]:
    """``resolve``'s answers for module-level names, kept per project: CTX110 and CTX111 ask
    about the same few names (``db``) in every file, some of them once per instance."""
    return {}


def instance_for(
    project: Project, path: str, name: str, scopes: Sequence[FunctionNode] = ()
) -> Instance | None:
    """The instance ``name`` refers to in ``path``, if it is one."""
    origin = resolve(project, path, name, scopes)
    if origin is None:
        return None
    return next((i for i in instances(project) if i.key == origin), None)


def registrations(project: Project, instance: Instance) -> list[Registration]:
    """Where ``instance`` is registered on an app, tests included, in file order."""
    return list(_registrations(project).get(instance.key, ()))


@per_project
def _registrations(project: Project) -> dict[tuple[str, str], list[Registration]]:
    found: dict[tuple[str, str], list[Registration]] = {}
    for instance in instances(project):
        if instance.app_argument is not None:
            tree = project.ast(instance.path)
            index = _module_index(tree, instance.line) if tree is not None else None
            registration = Registration(
                instance.path, instance.line, instance.name, instance.app_argument, None, index
            )
            found.setdefault(instance.key, []).append(registration)
    for path, tree in project_files(project, mentioning="init_app"):
        for call, scopes in calls_with_scopes(tree):
            func = call.func
            if not (
                isinstance(func, ast.Attribute)
                and func.attr == "init_app"
                and isinstance(func.value, ast.Name)
            ):
                continue
            registered = instance_for(project, path, func.value.id, scopes)
            if registered is None:
                continue
            app = call.args[0] if call.args else _keyword(call, "app")
            app_name = app.id if isinstance(app, ast.Name) else ast.unparse(app) if app else ""
            function, index = _place(tree, call.lineno)
            found.setdefault(registered.key, []).append(
                Registration(path, call.lineno, func.value.id, app_name, function, index)
            )
    return found


def modules_run_by(project: Project, path: str) -> set[str]:
    """Every project file that importing the module in ``path`` runs (itself and its parent
    packages included), following module-level imports."""
    module = project.module_name(path)
    return _closure(project, [module] if module else [])


def files_imported_by(project: Project, path: str, statements: Sequence[ast.stmt]) -> set[str]:
    """Every project file that running ``statements`` of ``path`` imports, transitively: the
    imports among them and in their nested blocks, not those inside function definitions."""
    modules: list[str] = []
    for statement in statements:
        for node in _walk_without_definitions(statement):
            modules.extend(_imported_modules(project, path, node))
    return _closure(project, modules)


def calls_with_scopes(tree: ast.Module) -> Iterator[tuple[ast.Call, tuple[FunctionNode, ...]]]:
    """Every call in ``tree``, with the functions around it, innermost first."""

    def visit(
        node: ast.AST, scopes: tuple[FunctionNode, ...]
    ) -> Iterator[tuple[ast.Call, tuple[FunctionNode, ...]]]:
        for child in child_nodes(node):
            inner = (child, *scopes) if isinstance(child, FunctionNode) else scopes
            if isinstance(child, ast.Call):
                yield child, scopes
            yield from visit(child, inner)

    yield from visit(tree, ())


def functions_around(tree: ast.Module, line: int) -> tuple[FunctionNode, ...]:
    """The functions whose body spans ``line``, innermost first (a default argument or a
    decorator on ``line`` belongs to the scope around the function, as Python runs it)."""
    found: list[FunctionNode] = []

    def visit(node: ast.AST) -> None:
        for child in child_nodes(node):
            start = getattr(child, "lineno", None)
            if start is not None and not start <= line <= (child.end_lineno or start):  # type: ignore[attr-defined]
                continue
            if isinstance(child, FunctionNode) and child.body[0].lineno <= line:
                found.append(child)
            visit(child)

    visit(tree)
    return tuple(reversed(found))


def flask_classes(tree: ast.Module) -> set[str]:
    """The names a module constructs a Flask app with: ``Flask``, ``flask.Flask``, subclasses."""
    names: set[str] = set()
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            names.update(a.asname or a.name for a in node.names if a.name == "Flask")
        elif isinstance(node, ast.Import):
            names.update(f"{a.asname or a.name}.Flask" for a in node.names if a.name == "flask")
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(dotted_name(b) in names for b in node.bases):
            names.add(node.name)
    return names


def builds_app(function: FunctionNode, classes: set[str]) -> bool:
    """Whether ``function`` makes a Flask app (with one of ``classes``) and returns it."""
    return app_variable(function, classes) is not None or any(
        isinstance(node, ast.Return) and node.value is not None and _is_call_of(node.value, classes)
        for node in walk(function)
    )


def app_variable(function: FunctionNode, classes: set[str]) -> str | None:
    """The name a factory keeps its app in: ``app`` for ``app = Flask(__name__)`` ...
    ``return app``; ``None`` unless exactly one such name."""
    made: set[str] = set()
    returned: set[str] = set()
    for node in walk(function):
        if isinstance(node, ast.Assign) and _is_call_of(node.value, classes):
            made.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Name):
            returned.add(node.value.id)
    found = made & returned
    return found.pop() if len(found) == 1 else None


def is_production_path(path: str) -> bool:
    """Code the app runs, not its tests."""
    return not is_test_path(path)


# --- internals ----------------------------------------------------------------------------

_LOCAL = ("", "")


def _binding(
    project: Project, path: str, statements: list[ast.stmt], name: str, *, last: bool
) -> tuple[str, str] | None:
    """What ``statements`` bind ``name`` to: an origin, ``_LOCAL`` (not an import), or ``None``."""
    found: tuple[str, str] | None = None
    for statement in statements:
        bound = _bound_by(project, path, statement, name)
        if bound is not None:
            found = bound
            if not last:
                return found
    return found


def _bound_by(
    project: Project, path: str, statement: ast.stmt, name: str
) -> tuple[str, str] | None:
    if isinstance(statement, ast.ImportFrom):
        module = project.absolute_module(path, statement.module, statement.level)
        for alias in statement.names:
            if (alias.asname or alias.name) == name:
                if module is None:
                    return _LOCAL
                return _origin(project, module, alias.name, 0) or _LOCAL
        return None
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if (alias.asname or alias.name.split(".")[0]) == name:
                return _LOCAL
        return None
    if name in _bound_names(statement):
        return (path, name)
    return None


def _origin(project: Project, module: str, name: str, depth: int) -> tuple[str, str] | None:
    """Where ``from module import name`` finds its object: (defining file, its name there)."""
    path = project.module_path(module)
    if path is None or depth > 5:
        return None
    tree = project.ast(path)
    if tree is None:
        return None
    found: tuple[str, str] | None = None
    for statement in module_level_statements(tree):
        if isinstance(statement, ast.ImportFrom):
            source = project.absolute_module(path, statement.module, statement.level)
            for alias in statement.names:
                if (alias.asname or alias.name) == name and source:
                    found = _origin(project, source, alias.name, depth + 1)
        elif name in _bound_names(statement):
            found = (path, name)
    return found


def _own_statements(function: FunctionNode) -> Iterator[ast.stmt]:
    """The statements of ``function``'s own body, nested blocks included, not nested defs
    (their names, which the function binds, are included)."""
    pending: list[ast.stmt] = list(reversed(function.body))
    while pending:
        statement = pending.pop()
        yield statement
        if isinstance(statement, FunctionNode | ast.ClassDef):
            continue
        children = [
            child
            for field in ("body", "orelse", "finalbody")
            for child in getattr(statement, field, [])
            if isinstance(child, ast.stmt)
        ]
        for handler in getattr(statement, "handlers", []):
            children.extend(handler.body)
        pending.extend(reversed(children))


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope, not counting imports (handled apart)."""
    if isinstance(statement, FunctionNode | ast.ClassDef):
        return {statement.name}
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.For | ast.AsyncFor):
        targets = [statement.target]
    elif isinstance(statement, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in statement.items if item.optional_vars]
    names = {
        node.id
        for target in targets
        for node in walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    return names


def _extension_classes(tree: ast.Module) -> set[str]:
    """The names (``SQLAlchemy``, ``fsa.SQLAlchemy``, a subclass) that construct the extension."""
    names: set[str] = set()
    for statement in module_level_statements(tree):
        if isinstance(statement, ast.ImportFrom) and statement.module == EXTENSION_MODULE:
            names.update(a.asname or a.name for a in statement.names if a.name == EXTENSION_CLASS)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.name == EXTENSION_MODULE:
                    names.add(f"{alias.asname or alias.name}.{EXTENSION_CLASS}")
    changed = bool(names)
    while changed:
        changed = False
        for statement in tree.body:
            if isinstance(statement, ast.ClassDef) and statement.name not in names:
                if any(dotted_name(base) in names for base in statement.bases):
                    names.add(statement.name)
                    changed = True
    return names


def _is_call_of(node: ast.expr, names: set[str]) -> bool:
    return isinstance(node, ast.Call) and dotted_name(node.func) in names


def _arguments_text(source: str, call: ast.Call) -> str:
    parts = [ast.get_source_segment(source, argument) or "" for argument in call.args]
    for keyword in call.keywords:
        text = ast.get_source_segment(source, keyword.value) or ""
        parts.append(f"{keyword.arg}={text}" if keyword.arg else f"**{text}")
    return ", ".join(parts)


def _app_argument(call: ast.Call) -> str | None:
    app = call.args[0] if call.args else _keyword(call, "app")
    if app is None or (isinstance(app, ast.Constant) and app.value is None):
        return None
    return app.id if isinstance(app, ast.Name) else ast.unparse(app)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _place(tree: ast.Module, line: int) -> tuple[str | None, int | None]:
    """The top-level function around ``line`` (``None`` at module level), and the index of the
    statement at ``line`` in that function's body (or the module's), ``None`` if deeper."""
    for statement in tree.body:
        end = statement.end_lineno or statement.lineno
        if not statement.lineno <= line <= end:
            continue
        if isinstance(statement, FunctionNode):
            index = next(
                (
                    i
                    for i, inner in enumerate(statement.body)
                    if inner.lineno <= line <= (inner.end_lineno or inner.lineno)
                    and not isinstance(inner, ast.If | ast.For | ast.While | ast.Try | ast.With)
                ),
                None,
            )
            return statement.name, index
        if isinstance(statement, ast.ClassDef):
            return "", None
        compound = isinstance(statement, ast.If | ast.For | ast.While | ast.Try | ast.With)
        return None, None if compound else tree.body.index(statement)
    return None, None


def _module_index(tree: ast.Module, line: int) -> int | None:
    return next(
        (i for i, statement in enumerate(tree.body) if statement.lineno == line),
        None,
    )


def _walk_without_definitions(statement: ast.stmt) -> Iterator[ast.AST]:
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, FunctionNode | ast.ClassDef | ast.Lambda):
            pending.extend(child_nodes(node))


def _imported_modules(project: Project, path: str, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        module = project.absolute_module(path, node.module, node.level)
        if module is None:
            return []
        found = [module]
        for alias in node.names:
            if project.module_path(f"{module}.{alias.name}"):
                found.append(f"{module}.{alias.name}")
        return found
    return []


def _closure(project: Project, modules: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(modules)
    while pending:
        current = pending.pop()
        parts = current.split(".")
        for depth in range(1, len(parts) + 1):
            file = project.module_path(".".join(parts[:depth]))
            if file is None or file in seen:
                continue
            seen.add(file)
            tree = project.ast(file)
            if tree is None:
                continue
            for statement in module_level_statements(tree):
                pending.extend(_imported_modules(project, file, statement))
    return seen
