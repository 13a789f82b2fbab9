"""What a module the app imports runs at import time, read from the code.

The app's modules are the files importing its factory's or instance's module runs, plus those
its factory imports from its own body (``from . import views`` inside ``create_app``). A file
only a script imports is not one of them: a script's own top-level code is CTX101's cause.

At import time Python runs a module's top level: its statements, the bodies of its classes,
decorators and default arguments, but not function bodies. Whatever of that needs an app
context (``db.create_all()``, ``Model.query``, ``current_app``, ``g``, ``url_for``) fails there,
since no context exists yet; with a factory, no app does either.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.apps import is_main_guard
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.flask_sqlalchemy import declares_2x
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project
from tracefix.recipes._base import SkipFix
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import FunctionNode
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import Registration
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import app_variable
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import builds_app
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import files_imported_by
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import flask_classes
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import instance_for
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import modules_run_by
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import project_files
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import registrations
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import resolve
from tracefix.scan.context_use import NamingLines

Shape = Literal["create_all", "config", "other"]

#: Methods of a Flask-SQLAlchemy instance that need an app context when called.
INSTANCE_METHODS = frozenset({"create_all", "drop_all", "reflect"})
#: Properties of a Flask-SQLAlchemy instance that need an app context when read.
INSTANCE_PROPERTIES = frozenset({"engine", "engines"})
#: The instance's scoped session: naming it is fine (``event.listen(db.session, ...)``),
#: calling it or its methods (``db.session.add(...)``) needs a context.
SESSION = "session"
#: Flask proxies that need an app context once unwrapped: ``current_app.config``, ``g.user``,
#: ``current_app()``; naming them alone (``proxy = current_app``) is fine.
FLASK_PROXIES = frozenset({"current_app", "g"})
#: ...or when called.
FLASK_FUNCTIONS = frozenset({"url_for", "render_template", "render_template_string"})
#: The attributes of an instance or a model that ``_UseReader`` counts as uses.
USED_ATTRIBUTES = INSTANCE_METHODS | INSTANCE_PROPERTIES | {SESSION, "query"}
#: Calls a config value may go through and still be read again, unchanged, on each use.
PURE_BUILTINS = frozenset({"int", "float", "str", "bool"})


@dataclass(frozen=True)
class Use:
    """One top-level statement that uses an app context at import time."""

    #: The first line of the top-level statement.
    line: int
    #: Where the use itself is: its line, and its 1-based column.
    use_line: int
    column: int
    #: What it uses, for the user (``db.create_all()``, ``current_app``).
    what: str


@dataclass(frozen=True)
class Classified:
    """A top-level statement's shape, and what its fix needs."""

    shape: Shape
    #: The instance's name (``create_all``) or the constant's (``config``).
    name: str | None = None
    #: Why no fix applies (``other``).
    reason: str | None = None


@per_project
def app_modules(project: Project) -> dict[str, bool]:
    """The files the app imports, each with whether some import of it runs outside an app
    context (``False`` when the factory imports it only under ``with app.app_context():``)."""
    reached: dict[str, bool] = {}
    for path, tree in project_files(project, mentioning="Flask"):
        if is_test_path(path):
            continue
        classes = flask_classes(tree)
        if not classes:
            continue
        factories = [
            node
            for node in tree.body
            if isinstance(node, FunctionNode) and builds_app(node, classes)
        ]
        has_instance = any(
            isinstance(node, ast.Assign) and _is_call_of(node.value, classes) for node in tree.body
        )
        if not factories and not has_instance:
            continue
        for file in modules_run_by(project, path):
            reached[file] = True
        for factory in factories:
            outside, inside = _split_by_context(factory.body)
            for file in files_imported_by(project, path, inside):
                reached.setdefault(file, False)
            for file in files_imported_by(project, path, outside):
                reached[file] = True
    return reached


def import_time_uses(project: Project, path: str) -> list[Use]:
    """The top-level statements of ``path`` that use an app context when it is imported, one
    ``Use`` each (its first use), outside any ``with app.app_context():`` and the
    ``if __name__ == "__main__":`` block."""
    tree = project.ast(path)
    if tree is None:
        return []
    reader = _UseReader(project, path, tree)
    found = []
    for statement in _import_time_statements(tree.body):
        use = next(reader.uses(statement), None)
        if use is not None and not inside_app_context(project, path, statement.lineno):
            what, line, column = use
            found.append(Use(statement.lineno, line, column, what))
    return found


def classify(project: Project, path: str, statement: ast.stmt, calls_project: bool) -> Classified:
    """Which fix, if any, fits the top-level ``statement``.

    ``calls_project``: the failure went through project functions the statement called.
    """
    if calls_project:
        return Classified(
            "other",
            reason="it calls project code that needs the context; moving that call is a "
            "change to the module's design that tracefix will not guess",
        )
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "create_all"
            and isinstance(func.value, ast.Name)
            and instance_for(project, path, func.value.id) is not None
        ):
            return Classified("create_all", func.value.id)
    target, value = _single_assignment(statement)
    if target is not None and value is not None:
        tree = project.ast(path)
        assert tree is not None
        if is_config_read(value, flask_names(tree)):
            return Classified("config", target)
    return Classified("other", reason=_no_move_reason(statement))


def is_config_read(value: ast.expr, flask_names: dict[str, str]) -> bool:
    """Whether ``value`` only reads ``current_app.config`` (``current_app.config["X"]``,
    ``.get("X", default)``, ``int(...)`` of one, literals joined to one), so that evaluating it
    again where the constant was read gives the same value."""
    reads_config = False

    def readable(node: ast.expr) -> bool:
        nonlocal reads_config
        if isinstance(node, ast.Constant):
            return True
        if _is_config(node, flask_names):
            reads_config = True
            return True
        if isinstance(node, ast.Subscript):
            return readable(node.value) and readable(node.slice)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "get":
                if not _is_config(func.value, flask_names):
                    return False
                reads_config = True
                arguments = [*node.args, *(k.value for k in node.keywords)]
                return all(isinstance(a, ast.Constant) for a in arguments)
            if isinstance(func, ast.Name) and func.id in PURE_BUILTINS and not node.keywords:
                return all(readable(argument) for argument in node.args)
            return False
        if isinstance(node, ast.BinOp):
            return readable(node.left) and readable(node.right)
        if isinstance(node, ast.BoolOp | ast.JoinedStr):
            return all(readable(part) for part in node.values)
        if isinstance(node, ast.FormattedValue):
            return readable(node.value) and (node.format_spec is None or readable(node.format_spec))
        return False

    return readable(value) and reads_config


def top_level_statement(tree: ast.Module, line: int) -> ast.stmt | None:
    """The statement of ``tree.body`` that spans ``line``."""
    return next(
        (s for s in tree.body if _first_line(s) <= line <= (s.end_lineno or s.lineno)),
        None,
    )


def where_tables_belong(project: Project, path: str, name: str, line: int) -> str:
    """A sentence saying where the project registers ``name`` on its app, and so where the
    ``create_all()`` at ``path:line`` belongs; generic when that is not clear."""
    try:
        registration = registration_of(project, path, name)
    except SkipFix:
        return (
            f" Create the tables where `{name}` is registered on the app, under "
            "`with app.app_context():`, once the models are imported."
        )
    where = f"{registration.path}:{registration.line}"
    scope = (
        f"the factory `{registration.function}()`"
        if registration.function
        else "the module that makes the app"
    )
    tree = project.ast(registration.path)
    body = tree.body if tree is not None else []
    if registration.function and tree is not None:
        body = next(
            (
                n.body
                for n in tree.body
                if isinstance(n, FunctionNode) and n.name == registration.function
            ),
            [],
        )
    if registration.path == path:
        body = [s for s in body if not s.lineno <= line <= (s.end_lineno or s.lineno)]
    if calls_create_all(body, registration.db_name):
        return (
            f" {scope[0].upper()}{scope[1:]} registers `{name}` ({where}) and already creates "
            "the tables there: the import-time call only has to go."
        )
    return (
        f" {scope[0].upper()}{scope[1:]} registers `{name}` on the app ({where}): create the "
        "tables there, under `with app.app_context():`, once the models are imported."
    )


def registration_of(project: Project, path: str, name: str) -> Registration:
    instance = instance_for(project, path, name)
    if instance is None:
        raise SkipFix(f"`{name}` in {path} is not a Flask-SQLAlchemy instance tracefix can follow")
    found = [r for r in registrations(project, instance) if not is_test_path(r.path)]
    where = f"`{instance.name}` ({instance.path}:{instance.line})"
    if not found:
        raise SkipFix(
            f"{where} is never registered on an app with `init_app`: there is no app setup to "
            "move `create_all()` into (CTX111)"
        )
    if len(found) > 1:
        places = ", ".join(f"{r.path}:{r.line}" for r in found)
        raise SkipFix(f"{where} is registered in several places ({places}); which app is unclear")
    registration = found[0]
    if registration.index is None or registration.function == "":
        raise SkipFix(
            f"`{registration.db_name}` is registered at {registration.path}:{registration.line} "
            "inside a block or a class, not in a factory's own body or at module level"
        )
    if registration.function is not None:
        return _through_helper(project, registration, instance.key)
    return registration


def _through_helper(
    project: Project, registration: Registration, key: tuple[str, str]
) -> Registration:
    """The factory's own registration when ``registration`` sits in a helper it calls with its
    app (``register_extensions(app)``, as cookiecutter-flask does); ``registration`` itself
    when it is in the factory."""
    tree = project.ast(registration.path)
    assert tree is not None
    classes = flask_classes(tree)
    functions = {n.name: n for n in tree.body if isinstance(n, FunctionNode)}
    helper = functions.get(registration.function or "")
    if helper is None or builds_app(helper, classes) or _makes_app(helper, classes):
        return registration
    parameters = [a.arg for a in helper.args.posonlyargs + helper.args.args]
    if registration.app_name not in parameters[:1]:
        raise SkipFix(
            f"{helper.name}() registers `{registration.db_name}` on `{registration.app_name}`, "
            "not on the app it is given"
        )
    for factory in functions.values():
        app = app_variable(factory, classes)
        if app is None:
            continue
        for index, statement in enumerate(factory.body):
            if (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Call)
                and isinstance(statement.value.func, ast.Name)
                and statement.value.func.id == helper.name
                and statement.value.args[:1]
                and isinstance(statement.value.args[0], ast.Name)
                and statement.value.args[0].id == app
            ):
                db_name = next(
                    (
                        name
                        for name in (registration.db_name, key[1])
                        if resolve(project, registration.path, name, (factory,)) == key
                    ),
                    None,
                )
                if db_name is None:
                    raise SkipFix(
                        f"{factory.name}() has no name for the `{registration.db_name}` its "
                        f"helper {helper.name}() registers"
                    )
                return Registration(
                    registration.path, statement.lineno, db_name, app, factory.name, index
                )
    raise SkipFix(
        f"`{registration.db_name}` is registered in {helper.name}() "
        f"({registration.path}:{registration.line}), which no factory of that file calls with "
        "its app"
    )


def _makes_app(function: FunctionNode, classes: set[str]) -> bool:
    return any(
        isinstance(node, ast.Call) and ast.unparse(node.func) in classes for node in walk(function)
    )


def calls_create_all(body: list[ast.stmt], db_name: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_all"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == db_name
        for statement in body
        for node in walk(statement)
    )


# --- internals ----------------------------------------------------------------------------


class _UseReader:
    """Finds, in code Python runs at import time, the uses that need an app context."""

    def __init__(self, project: Project, path: str, tree: ast.Module) -> None:
        self.project = project
        self.path = path
        self.flask = flask_names(tree)
        self._instance: dict[str, bool] = {}
        self._model: dict[str, bool] = {}
        flask = [name for name, of in self.flask.items() if of in FLASK_PROXIES | FLASK_FUNCTIONS]
        #: Where those names and the attributes of a use are spelt: elsewhere is no use.
        self._naming = NamingLines.of(project.source(path) or "", [*flask, *USED_ATTRIBUTES])

    def uses(self, statement: ast.stmt) -> Iterator[tuple[str, int, int]]:
        """(what, line, 1-based column) of each use in ``statement``."""
        parents: dict[int, ast.AST] = {}
        for node in _evaluated_at_import(statement, parents, self._naming):
            what = self._use(node, parents)
            if what is not None and isinstance(node, ast.expr):
                yield what, node.lineno, node.col_offset + 1

    def _use(self, node: ast.AST, parents: dict[int, ast.AST]) -> str | None:
        parent = parents.get(id(node))
        if isinstance(node, ast.Name) and self.flask.get(node.id) in FLASK_PROXIES:
            if _unwraps(node, parent):
                return f"`{node.id}`"
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if self.flask.get(node.func.id) in FLASK_FUNCTIONS:
                return f"`{node.func.id}()`"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = node.value.id
            called = _is_called(node, parents)
            if node.attr in INSTANCE_METHODS and called and self._is_instance(name):
                return f"`{name}.{node.attr}()`"
            if node.attr in INSTANCE_PROPERTIES and self._is_instance(name):
                return f"`{name}.{node.attr}`"
            if node.attr == SESSION and self._is_instance(name):
                method = isinstance(parent, ast.Attribute) and _is_called(parent, parents)
                if called or method:
                    return f"`{name}.session`"
            if node.attr == "query" and self._is_model(name):
                return f"`{name}.query`"
        return None

    def _is_instance(self, name: str) -> bool:
        if name not in self._instance:
            self._instance[name] = _needs_context(self.project, self.path, name)
        return self._instance[name]

    def _is_model(self, name: str) -> bool:
        if name not in self._model:
            self._model[name] = _is_model_class(self.project, self.path, name)
        return self._model[name]


def _is_called(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    parent = parents.get(id(node))
    return isinstance(parent, ast.Call) and parent.func is node


def _unwraps(proxy: ast.Name, parent: ast.AST | None) -> bool:
    """Whether ``proxy`` is looked into where it stands: an attribute, an item, a call."""
    return (isinstance(parent, ast.Attribute | ast.Subscript) and parent.value is proxy) or (
        isinstance(parent, ast.Call) and parent.func is proxy
    )


def _is_model_class(project: Project, path: str, name: str) -> bool:
    """Whether ``name`` in ``path`` is a class whose base is ``<instance>.Model``."""
    origin = resolve(project, path, name)
    if origin is None:
        return False
    file, class_name = origin
    tree = project.ast(file)
    if tree is None:
        return False
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return any(
                isinstance(base, ast.Attribute)
                and base.attr == "Model"
                and isinstance(base.value, ast.Name)
                and _needs_context(project, file, base.value.id)
                for base in node.bases
            )
    return False


def _needs_context(project: Project, path: str, name: str) -> bool:
    """Whether ``name`` in ``path`` is an instance that needs an app context: on
    Flask-SQLAlchemy 2.x, one given the app (``SQLAlchemy(app)``) does not."""
    found = instance_for(project, path, name)
    return found is not None and not (found.app_argument is not None and declares_2x(project))


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The top-level statements a module runs on import, minus its ``__main__`` block and the
    bodies of ``with`` blocks that push a context; ``if`` and ``try`` blocks count as a whole."""
    for statement in body:
        if is_main_guard(statement):
            continue
        if isinstance(statement, ast.With) and any(
            is_context_call(item.context_expr) for item in statement.items
        ):
            continue
        yield statement


def _evaluated_at_import(
    statement: ast.stmt, parents: dict[int, ast.AST], naming: NamingLines
) -> Iterator[ast.AST]:
    """The nodes of ``statement`` evaluated when it runs at module level: decorators, default
    arguments, class bodies, comprehensions; not function or lambda bodies, nor the statements
    (``statement`` too) none of whose lines spells a name of ``naming``. Each node's parent is
    in ``parents`` (by ``id``) before the node is yielded, when the parent is one of them: not
    a function's body, which can be most of a module and is never looked at."""
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.stmt) and not naming.may_name_in(node):
            continue
        if isinstance(node, FunctionNode):
            pending.extend(node.decorator_list)
            pending.extend(node.args.defaults)
            pending.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Lambda):
            pending.extend(node.args.defaults)
            continue
        yield node
        children = child_nodes(node)
        for child in children:
            parents[id(child)] = node
        pending.extend(reversed(children))


def _split_by_context(body: list[ast.stmt]) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """A factory's statements outside ``with app.app_context():`` blocks, and those inside."""
    outside: list[ast.stmt] = []
    inside: list[ast.stmt] = []
    for statement in body:
        if isinstance(statement, ast.With) and any(
            is_context_call(item.context_expr) for item in statement.items
        ):
            inside.extend(statement.body)
        else:
            outside.append(statement)
    return outside, inside


def flask_names(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to Flask's own objects: local name -> Flask's name."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask.globals"):
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
    return names


def _is_call_of(node: ast.expr, names: set[str]) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func) in names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _single_assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Name):
            return target.id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None


def _is_current_app(node: ast.expr, flask_names: dict[str, str]) -> bool:
    return isinstance(node, ast.Name) and flask_names.get(node.id) == "current_app"


def _is_config(node: ast.expr, flask_names: dict[str, str]) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "config"
        and _is_current_app(node.value, flask_names)
    )


def _no_move_reason(statement: ast.stmt) -> str:
    if isinstance(statement, ast.ClassDef):
        return (
            f"it runs in the body of class `{statement.name}` (a form's `choices`, a default "
            "value); move it into the method that needs it, such as the form's `__init__`"
        )
    if isinstance(statement, FunctionNode):
        return (
            f"it runs in a decorator or default argument of `{statement.name}()`; move it into "
            "the function's body"
        )
    return (
        "it is not a `db.create_all()` call or a `current_app.config` read kept in a constant, "
        "the two shapes tracefix can move without changing what the module means; move it into "
        "the function that needs it, or into the factory under `with app.app_context():`"
    )


def _first_line(statement: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(statement, "decorator_list", [])
    return min([statement.lineno, *(d.lineno for d in decorators)])
