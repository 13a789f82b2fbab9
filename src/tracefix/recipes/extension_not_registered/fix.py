"""Register the one ``SQLAlchemy`` instance on the app, in two shapes.

- The project makes one instance and never registers it: ``db.init_app(app)`` goes into the
  factory (or after the module-level app), after the statements that configure the app, since
  ``init_app`` reads ``SQLALCHEMY_DATABASE_URI`` then, and before anything else uses ``db``.
- A module makes a second instance while the app registers another: the module imports the
  registered one under the name it used (``from app import db``) instead of making its own, and
  drops its now unused ``SQLAlchemy`` import.

Anything less clear raises ``SkipFix``: which instance, which app, a second instance configured
differently from the first, or an import that would run in a circle.
"""

from __future__ import annotations

import ast

import libcst as cst

from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import module_level_statements
from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import edit_block
from tracefix.recipes._codemod import is_import_line
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import EXTENSION_CLASS
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import EXTENSION_MODULE
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import FunctionNode
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import Instance
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import app_variable
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import files_imported_by
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import flask_classes
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import modules_run_by
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import registrations
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import resolve


def add_init_app(project: Project, instance: Instance) -> tuple[FileChange, ...]:
    """Register ``instance`` on the project's one app, where that app is made."""
    if registrations(project, instance):
        raise SkipFix(f"`{instance.name}` ({instance.path}:{instance.line}) is registered already")
    source = find_app_source(project)
    if source is None:
        raise SkipFix("no single Flask app factory or module-level app found to register it on")
    path = source.path
    tree = project.ast(path)
    before = project.source(path)
    assert tree is not None and before is not None
    module = project.cst(path)
    if source.kind == "factory":
        function = next(
            (n for n in tree.body if isinstance(n, FunctionNode) and n.name == source.name), None
        )
        if function is None:
            raise SkipFix(f"{path} no longer defines {source.name}()")
        app = app_variable(function, flask_classes(tree))
        if app is None:
            raise SkipFix(f"{source.name}() does not keep its app in one variable it returns")
        body: list[ast.stmt] = function.body
        scopes: tuple[FunctionNode, ...] = (function,)
    else:
        app, body, scopes = source.name, tree.body, ()
    db, imports = _name_for(project, path, instance, scopes)
    position = _position(body, app, db, instance, path)
    call = f"{db}.init_app({app})"
    module = _insert(module, body, position, call)
    if imports:
        source_module, name = imports
        position = _first_statement_index(module)
        module = _add_project_import(project, path, module, position, source_module, name)
    return (FileChange(path, before, module.code),)


def share_instance(project: Project, second: Instance, shared: Instance) -> tuple[FileChange, ...]:
    """Make the module that defines ``second`` import ``shared`` under ``second``'s name."""
    if registrations(project, second):
        raise SkipFix(f"`{second.name}` ({second.path}:{second.line}) is registered on an app too")
    if not registrations(project, shared):
        raise SkipFix(f"`{shared.name}` ({shared.path}:{shared.line}) is not registered either")
    if second.path == shared.path:
        raise SkipFix(f"{second.path} makes both instances itself")
    shared_arguments = _arguments_without_app(shared)
    if second.arguments and second.arguments != shared_arguments:
        raise SkipFix(
            f"`{second.name}` is made with other arguments ({second.arguments}) than "
            f"`{shared.name}`: the two are not interchangeable"
        )
    module_name = project.module_name(shared.path)
    if module_name is None:
        raise SkipFix(f"{shared.path} is not importable as a module")
    _no_import_cycle(project, second, shared)
    before = project.source(second.path)
    tree = project.ast(second.path)
    assert before is not None and tree is not None
    index = next(
        (i for i, statement in enumerate(tree.body) if statement.lineno == second.line), None
    )
    if index is None:
        raise SkipFix(f"{second.path}:{second.line} is not a top-level statement")
    module = project.cst(second.path)
    chain = statement_chain(module, second.line)
    if not chain or chain[0].block is not module:
        raise SkipFix(f"{second.path}:{second.line} is not a top-level statement")
    position = chain[0].index
    removed = module.body[position]
    rest = list(module.body[position + 1 :])
    if rest and removed.leading_lines and not rest[0].leading_lines and not is_import_line(rest[0]):
        rest[0] = rest[0].with_changes(leading_lines=removed.leading_lines)
    module = module.with_changes(body=[*module.body[:position], *rest])
    alias = "" if second.name == shared.name else f" as {second.name}"
    module = _add_project_import(
        project, second.path, module, position, module_name, f"{shared.name}{alias}"
    )
    module = _drop_unused_extension_import(module)
    return (FileChange(second.path, before, module.code),)


def _add_project_import(
    project: Project, path: str, module: cst.Module, position: int, target: str, name: str
) -> cst.Module:
    """``module`` (the file ``path``) with ``from target import name`` among its imports above
    ``position``, written relative (``from .extensions import db``) when the file imports its
    own package that way.

    (``add_imports`` refuses a name the file already reads, and here the file reads ``db``
    because it used its own.) The name joins a one-line import from ``target`` if there is one;
    else the line goes after the last import of a project module, else after the last import,
    as a group of its own, else where the removed statement was.
    """
    body = list(module.body[:position])
    imports = [i for i, statement in enumerate(body) if is_import_line(statement)]
    for index in reversed(imports):
        statement = body[index]
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        if (
            len(statement.body) == 1
            and isinstance(small, cst.ImportFrom)
            and _imported_module(project, path, small) == target
            and not isinstance(small.names, cst.ImportStar)
            and small.lpar is None
        ):
            names = [*small.names, _alias(name)]
            names = [n.with_changes(comma=cst.MaybeSentinel.DEFAULT) for n in names]
            merged = statement.with_changes(body=[small.with_changes(names=names)])
            return module.with_changes(body=[*body[:index], merged, *module.body[index + 1 :]])
    source = _written_form(project, path, module, target)
    new = cst.parse_statement(f"from {source} import {name}\n", config=module.config_for_parsing)
    own = [i for i in imports if _imports_project_module(project, body[i])]
    if own:
        at, leading = own[-1] + 1, []
    elif imports:
        at, leading = imports[-1] + 1, [cst.EmptyLine()]
    else:
        at, leading = (
            position,
            list(module.body[position].leading_lines) if position < len(module.body) else [],
        )
    statements = list(module.body)
    statements.insert(at, new.with_changes(leading_lines=leading))
    return module.with_changes(body=statements)


def _imported_module(project: Project, path: str, node: cst.ImportFrom) -> str | None:
    """The absolute module a ``from ... import`` in ``path`` names."""
    name = cst.helpers.get_full_name_for_node(node.module) if node.module is not None else None
    return project.absolute_module(path, name, len(node.relative))


def _written_form(project: Project, path: str, module: cst.Module, target: str) -> str:
    """``target`` as ``path`` would write it: relative (``..extensions``) when the file already
    imports from its own package relatively and ``target`` is in that package, else absolute."""
    relative = any(
        isinstance(statement, cst.SimpleStatementLine)
        and any(isinstance(small, cst.ImportFrom) and small.relative for small in statement.body)
        for statement in module.body
    )
    own = project.module_name(path)
    if not relative or own is None:
        return target
    package = own.split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    parts = target.split(".")
    common = 0
    while common < min(len(package), len(parts)) and package[common] == parts[common]:
        common += 1
    if common == 0:
        return target
    return "." * (len(package) - common + 1) + ".".join(parts[common:])


def _alias(text: str) -> cst.ImportAlias:
    """``db`` or ``db as database``, as one name of a ``from`` import."""
    parsed = cst.parse_statement(f"from x import {text}\n")
    assert isinstance(parsed, cst.SimpleStatementLine)
    node = parsed.body[0]
    assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
    return node.names[0]


def _imports_project_module(project: Project, statement: Statement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.ImportFrom):
            if small.relative:
                return True
            if small.module is not None:
                name = cst.helpers.get_full_name_for_node(small.module) or ""
                if project.module_path(name.split(".")[0]) is not None:
                    return True
        elif isinstance(small, cst.Import):
            for alias in small.names:
                name = cst.helpers.get_full_name_for_node(alias.name) or ""
                if project.module_path(name.split(".")[0]) is not None:
                    return True
    return False


# --- internals ----------------------------------------------------------------------------


def _name_for(
    project: Project, path: str, instance: Instance, scopes: tuple[FunctionNode, ...]
) -> tuple[str, tuple[str, str] | None]:
    """The name ``instance`` has in ``path`` where the call goes, and the (module, name) to
    import when it has none there."""
    tree = project.ast(path)
    assert tree is not None
    candidates = {instance.name}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            candidates.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Assign):
            candidates.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for name in sorted(candidates):
        if resolve(project, path, name, scopes) == instance.key:
            return name, None
    if _binds_anywhere(tree, instance.name):
        raise SkipFix(f"{path} already uses the name `{instance.name}` for something else")
    module = project.module_name(instance.path)
    if module is None:
        raise SkipFix(f"{instance.path} is not importable as a module")
    tree = project.ast(instance.path)
    statements = list(module_level_statements(tree)) if tree is not None else []
    if path in files_imported_by(project, instance.path, statements):
        raise SkipFix(
            f"{instance.path} imports {path}: importing `{instance.name}` there would run in "
            "a circle"
        )
    return instance.name, (module, instance.name)


#: ``app.config`` methods that change the configuration ``init_app`` reads.
CONFIG_WRITES = frozenset(
    {
        "update",
        "setdefault",
        "from_object",
        "from_mapping",
        "from_pyfile",
        "from_envvar",
        "from_prefixed_env",
        "from_file",
    }
)


def _position(body: list[ast.stmt], app: str, db: str, instance: Instance, path: str) -> int:
    """The index in ``body`` before which ``db.init_app(app)`` goes.

    After the app is made, after every write to its config (``init_app`` reads
    ``SQLALCHEMY_DATABASE_URI`` then) and after ``db`` is made or imported there; among the
    other calls that take the app (``login.init_app(app)``), after those before the first use of
    ``db`` (``migrate.init_app(app, db)``); never after a use of ``db``.
    """

    def own(statement: ast.stmt) -> bool:
        made = path == instance.path and statement.lineno == instance.line
        return made or (
            isinstance(statement, ast.Import | ast.ImportFrom)
            and any((alias.asname or alias.name) == db for alias in statement.names)
        )

    first_use = next((i for i, s in enumerate(body) if not own(s) and db in _names(s)), len(body))
    ready = -1
    for index, statement in enumerate(body):
        if app in _assigned(statement) or own(statement) or _writes_config(statement, app):
            ready = index
    if ready < 0:
        raise SkipFix(f"where the app `{app}` is made in {path} is unclear")
    if first_use <= ready:
        raise SkipFix(
            f"{path}:{body[first_use].lineno} uses `{db}` before the app's configuration is "
            "complete"
        )
    for index in range(ready + 1, first_use):
        if _passes_app(body[index], app):
            ready = index
    return ready + 1


def _writes_config(statement: ast.stmt, app: str) -> bool:
    """Whether ``statement`` (or a block in it) changes ``app.config``."""
    for node in ast.walk(statement):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript | ast.Attribute) and _is_config(target.value, app):
                return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CONFIG_WRITES
            and _is_config(node.func.value, app)
        ):
            return True
    return False


def _is_config(node: ast.expr, app: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "config"
        and isinstance(node.value, ast.Name)
        and node.value.id == app
    )


def _passes_app(statement: ast.stmt, app: str) -> bool:
    """A top-level call that is given the app: ``login.init_app(app)``, ``configure(app)``."""
    value = statement.value if isinstance(statement, ast.Expr | ast.Assign) else None
    return isinstance(value, ast.Call) and any(
        isinstance(argument, ast.Name) and argument.id == app
        for argument in [*value.args, *(k.value for k in value.keywords)]
    )


def _insert(module: cst.Module, body: list[ast.stmt], position: int, call: str) -> cst.Module:
    """``module`` with the statement ``call`` before ``body[position]`` (or at its end)."""
    anchor = body[min(position, len(body) - 1)]
    chain = statement_chain(module, anchor.lineno)
    located = next(
        (c for c in chain if _starts_at(module, c.statement, anchor.lineno)),
        None,
    )
    if located is None:
        raise SkipFix(f"no statement starts at line {anchor.lineno}")
    block, index = located.block, located.index
    if position >= len(body):
        index += 1
    new = cst.parse_statement(f"{call}\n", config=module.config_for_parsing)

    def edit(statements: list[Statement]) -> list[Statement]:
        previous = statements[index - 1] if index > 0 else None
        following = list(statements[index:])
        leading: list[cst.EmptyLine] = []
        if following and _is_init_app(following[0]):
            leading = list(following[0].leading_lines)
            following[0] = following[0].with_changes(leading_lines=[])
        elif not following or isinstance(previous, cst.BaseCompoundStatement):
            leading = [cst.EmptyLine(indent=False)]
        return [*statements[:index], new.with_changes(leading_lines=leading), *following]

    return edit_block(module, block, edit)


def _starts_at(module: cst.Module, node: Statement, line: int) -> bool:
    from libcst.metadata import MetadataWrapper
    from libcst.metadata import PositionProvider

    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return positions[node].start.line == line


def _is_init_app(statement: Statement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.Call)
        and isinstance(statement.body[0].value.func, cst.Attribute)
        and statement.body[0].value.func.attr.value == "init_app"
    )


def _binds_anywhere(tree: ast.Module, name: str) -> bool:
    """Whether ``name`` means something in ``tree`` already (read, bound or imported)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name:
            return True
        if isinstance(node, ast.ImportFrom | ast.Import):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
    return False


def _first_statement_index(module: cst.Module) -> int:
    """Where new imports may go: above the first statement that is not an import."""
    for index, statement in enumerate(module.body):
        if not (
            isinstance(statement, cst.SimpleStatementLine)
            and all(isinstance(s, cst.Import | cst.ImportFrom | cst.Expr) for s in statement.body)
        ):
            return index
    return len(module.body)


def _assigned(statement: ast.stmt) -> set[str]:
    if isinstance(statement, ast.Assign):
        return {t.id for t in statement.targets if isinstance(t, ast.Name)}
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return {statement.target.id}
    return set()


def _names(statement: ast.stmt) -> set[str]:
    return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}


def _arguments_without_app(instance: Instance) -> str:
    if instance.app_argument is None:
        return instance.arguments
    parts = [p.strip() for p in instance.arguments.split(",")]
    return ", ".join(
        p for p in parts if p not in (instance.app_argument, f"app={instance.app_argument}")
    )


def _no_import_cycle(project: Project, second: Instance, shared: Instance) -> None:
    """``SkipFix`` when importing ``shared``'s module from ``second``'s would find it half-run:
    ``shared``'s module imports ``second``'s before it defines ``shared``."""
    if second.path not in modules_run_by(project, shared.path):
        return
    tree = project.ast(shared.path)
    assert tree is not None
    for index, statement in enumerate(tree.body):
        if statement.lineno == shared.line:
            return
        if second.path in files_imported_by(project, shared.path, tree.body[: index + 1]):
            raise SkipFix(
                f"{shared.path}:{statement.lineno} imports {second.path} before it defines "
                f"`{shared.name}`: importing it from there would run in a circle"
            )


def _drop_unused_extension_import(module: cst.Module) -> cst.Module:
    """``module`` without ``from flask_sqlalchemy import SQLAlchemy`` if nothing uses it now."""
    tree = ast.parse(module.code)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}

    def keep(alias: cst.ImportAlias) -> bool:
        bound = alias.asname.name if alias.asname is not None else alias.name
        name = bound.value if isinstance(bound, cst.Name) else None
        return cst.helpers.get_full_name_for_node(alias.name) != EXTENSION_CLASS or name in used

    body: list[Statement] = []
    dropped_leading: list[cst.EmptyLine] | None = None
    for statement in module.body:
        if dropped_leading is not None and (not body or not statement.leading_lines):
            statement = statement.with_changes(leading_lines=dropped_leading)
        dropped_leading = None
        if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
            small = statement.body[0]
            if (
                isinstance(small, cst.ImportFrom)
                and isinstance(small.module, cst.Name)
                and small.module.value == EXTENSION_MODULE
                and not isinstance(small.names, cst.ImportStar)
            ):
                names = [alias for alias in small.names if keep(alias)]
                if not names:
                    dropped_leading = list(statement.leading_lines)
                    continue
                if len(names) != len(small.names):
                    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    statement = statement.with_changes(body=[small.with_changes(names=names)])
        body.append(statement)
    return module.with_changes(body=body)
