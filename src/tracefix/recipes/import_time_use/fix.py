"""Move an import-time use of the app context to where a context exists, in two shapes.

``db.create_all()`` at the top level of a module the app imports moves to where ``db`` is
registered on the app: into the factory that calls ``db.init_app(app)``, under its existing
``with app.app_context():`` or a new one just before ``return app``; or, for a module-level app,
under a ``with`` right after the registration and the import that defines the models. Where the
factory already creates the tables, the import-time call is only removed.

``NAME = current_app.config[...]`` at the top level, read only inside functions, becomes the
read itself at each use (docs/context-errors.md §1.3: "read lazily inside the function that
uses it"), and the constant goes.

Anything else raises ``SkipFix``: wrapping the line in ``with app.app_context():`` would need an
app importable from the module (a circular import) or a second app (§3.2).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import edit_block
from tracefix.recipes._codemod import is_docstring_line
from tracefix.recipes._codemod import relocate_line
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import FunctionNode
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import Registration
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import files_imported_by
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import functions_around
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import modules_run_by
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import project_files
from tracefix.recipes.import_time_use.reading import calls_create_all
from tracefix.recipes.import_time_use.reading import flask_names
from tracefix.recipes.import_time_use.reading import import_time_uses
from tracefix.recipes.import_time_use.reading import is_config_read
from tracefix.recipes.import_time_use.reading import registration_of
from tracefix.recipes.import_time_use.reading import top_level_statement

#: An edit of a file's tree, with the line it happens at: edits apply bottom-up, so each one's
#: line, read from the unedited file, is still right when its turn comes.
_Edit = tuple[int, Callable[[cst.Module], cst.Module]]


@dataclass(frozen=True)
class _Placement:
    """Where the moved ``create_all`` goes in the file that registers ``db``."""

    #: The ``ast`` statements of the scope (the factory's body or the module's).
    body: list[ast.stmt]
    #: ``create_all`` may run only after ``body[ready]`` (registration and models imported).
    ready: int
    #: The factory's final ``return app``, if a factory.
    returns: ast.Return | None


def move_create_all(
    project: Project, path: str, line: int, text: str | None
) -> tuple[FileChange, ...]:
    """Move the top-level ``db.create_all()`` at ``path:line`` to where ``db`` is registered."""
    before = _source(project, path)
    line = _relocated(before, path, line, text)
    tree = project.ast(path)
    assert tree is not None
    statement = top_level_statement(tree, line)
    call = _create_all_call(statement)
    if statement is None or call is None:
        raise SkipFix(f"{path}:{line} is not a top-level `db.create_all()` call")
    if inside_app_context(project, path, line):
        raise SkipFix(f"{path}:{line} already runs inside an app context")
    if any(
        not isinstance(a, ast.Constant) for a in [*call.args, *(k.value for k in call.keywords)]
    ):
        raise SkipFix(f"the arguments of `create_all` at {path}:{line} are not constants")
    _no_other_uses(project, path, statement.lineno)
    assert isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
    registration = registration_of(project, path, call.func.value.id)
    arguments = (ast.get_source_segment(before, call) or "").split("(", 1)[1]
    create = f"{registration.db_name}.create_all({arguments}"
    target = registration.path
    placement = _placement(project, path, statement, registration)
    context = f"{registration.app_name}.app_context()"
    scope = [s for s in placement.body if s is not statement]
    comments = _comments_above(project.cst(path), line)
    removal: _Edit = (line, lambda module: _remove(module, line))
    edits: list[_Edit] = [removal]
    if calls_create_all(scope, registration.db_name):
        pass
    elif target == path and placement.ready < tree.body.index(statement):
        edits = [(line, lambda module: _wrap_in_place(module, line, context))]
    else:
        existing = next(
            (
                s
                for s in placement.body[placement.ready + 1 :]
                if _is_context_with(s, registration.app_name)
            ),
            None,
        )
        header = f"with {context}:"
        addition: _Edit
        if existing is not None:
            addition = (
                existing.lineno,
                lambda module: _append_to_with(module, existing, create, comments),
            )
        elif placement.returns is not None:
            returns = placement.returns
            if placement.body.index(returns) <= placement.ready:
                raise SkipFix(f"the factory in {target} returns before `{create}` could run")
            addition = (
                returns.lineno,
                lambda module: _insert_before(module, returns, header, create, comments),
            )
        else:
            anchor = placement.body[placement.ready]
            addition = (
                anchor.lineno,
                lambda module: _insert_after(module, anchor, header, create, comments),
            )
        if target == path:
            edits.append(addition)
        else:
            return (
                FileChange(path, before, _remove(project.cst(path), line).code),
                FileChange(target, _source(project, target), addition[1](project.cst(target)).code),
            )
    module = project.cst(path)
    for _, edit in sorted(edits, key=lambda edit: edit[0], reverse=True):
        module = edit(module)
    return (FileChange(path, before, module.code),)


def read_config_lazily(
    project: Project, path: str, line: int, text: str | None
) -> tuple[FileChange, ...]:
    """Replace the top-level ``NAME = current_app.config[...]`` at ``path:line``, and any other
    such constant of the module, by the read itself wherever a function uses the constant."""
    before = _source(project, path)
    line = _relocated(before, path, line, text)
    tree = project.ast(path)
    assert tree is not None
    if inside_app_context(project, path, line):
        raise SkipFix(f"{path}:{line} already runs inside an app context")
    constants = _config_constants(project, path, tree)
    if not any(
        statement.lineno <= line <= (statement.end_lineno or 0) for statement, _ in constants
    ):
        raise SkipFix(f"{path}:{line} is not a top-level constant read from `current_app.config`")
    lines = {statement.lineno for statement, _ in constants}
    others = [use for use in import_time_uses(project, path) if use.line not in lines]
    if others:
        raise SkipFix(
            f"{path}:{others[0].line} uses {others[0].what} at import time too; reading the "
            "config lazily would not make the module importable"
        )
    reads: dict[str, str] = {}
    uses: dict[str, dict[tuple[int, int], str | None]] = {}
    for statement, name in constants:
        uses[name] = _uses_in_functions(tree, before, path, name, statement)
        _not_imported_elsewhere(project, path, name)
        _functions_not_called_at_import(tree, path, name, uses[name])
        value = statement.value
        assert value is not None
        read = ast.get_source_segment(before, value)
        assert read is not None
        if not isinstance(value, ast.Subscript | ast.Call | ast.Attribute | ast.Constant):
            read = f"({read})"
        reads[name] = read
    replacements, bindings = _plan(tree, before, path, reads, uses)
    module = MetadataWrapper(project.cst(path), unsafe_skip_copy=True).visit(
        _InlineName(replacements)
    )
    edits: list[_Edit] = [(at, _remover(at)) for at in lines]
    for function in dict.fromkeys(function for function, _ in bindings):
        texts = [text for bound, text in bindings if bound is function]
        edits.append((function.lineno, _binder(function, texts)))
    for _, edit in sorted(edits, key=lambda edit: edit[0], reverse=True):
        module = edit(module)
    return (FileChange(path, before, module.code),)


def _plan(
    tree: ast.Module,
    source: str,
    path: str,
    reads: dict[str, str],
    uses: dict[str, dict[tuple[int, int], str | None]],
) -> tuple[dict[tuple[int, int], str], list[tuple[FunctionNode, str]]]:
    """How each function gets its values: the read written at each use, or, where that would
    make a line longer than the file's longest (and than 88), a local variable set at the top
    of the function (``admin_email = current_app.config["ADMIN_EMAIL"]``).

    Returns the text for each use's position and the binding lines to add per function.
    """
    lines = source.splitlines()
    limit = max(88, *(len(line) for line in lines))
    by_function: dict[FunctionNode, list[tuple[str, tuple[int, int], str | None]]] = {}
    for name, positions in uses.items():
        for position, quote in positions.items():
            function = functions_around(tree, position[0])[0]
            by_function.setdefault(function, []).append((name, position, quote))
    replacements: dict[tuple[int, int], str] = {}
    bindings: list[tuple[FunctionNode, str]] = []
    for function, found in by_function.items():
        growth: dict[int, int] = {}
        for name, (line, _), _quote in found:
            growth[line] = growth.get(line, 0) + len(reads[name]) - len(name)
        if all(len(lines[line - 1]) + extra <= limit for line, extra in growth.items()):
            for name, position, quote in found:
                replacements[position] = _read_for(reads[name], quote, path, position[0])
            continue
        taken = _names_in(function)
        for name in dict.fromkeys(name for name, _, _ in found):
            candidates = [name.lower(), *_config_keys(reads[name]), f"{name.lower()}_value"]
            local = next((c for c in candidates if c.isidentifier() and c not in taken), None)
            if local is None:
                raise SkipFix(
                    f"{function.name}() at {path}:{function.lineno} already uses the names "
                    f"{', '.join(candidates)}, and the read would make its lines too long"
                )
            taken.add(local)
            bindings.append((function, f"{local} = {reads[name]}"))
            for found_name, position, _quote in found:
                if found_name == name:
                    replacements[position] = local
    return replacements, bindings


def _config_keys(read: str) -> list[str]:
    """The config keys a read names, lower-cased: a local variable may take their name."""
    return [
        node.value.lower()
        for node in ast.walk(ast.parse(read, mode="eval"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isupper()
    ]


def _names_in(function: FunctionNode) -> set[str]:
    arguments = function.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    parameters += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    names = {parameter.arg for parameter in parameters}
    names.update(node.id for node in ast.walk(function) if isinstance(node, ast.Name))
    return names


def _remover(line: int) -> Callable[[cst.Module], cst.Module]:
    return lambda module: _remove(module, line)


def _binder(function: FunctionNode, texts: list[str]) -> Callable[[cst.Module], cst.Module]:
    """An edit that sets local variables first thing in ``function`` (after its docstring)."""

    def edit(module: cst.Module) -> cst.Module:
        block, index = _locate(module, function)
        definition = block.body[index]
        assert isinstance(definition, cst.FunctionDef)
        body = definition.body
        if not isinstance(body, cst.IndentedBlock):
            raise SkipFix(f"{function.name}() is written on one line")
        start = 1 if body.body and is_docstring_line(body.body[0]) else 0
        lines = [
            cst.parse_statement(f"{text}\n", config=module.config_for_parsing) for text in texts
        ]
        return edit_block(
            module, body, lambda statements: [*statements[:start], *lines, *statements[start:]]
        )

    return edit


def _config_constants(
    project: Project, path: str, tree: ast.Module
) -> list[tuple[ast.Assign | ast.AnnAssign, str]]:
    """The module's top-level ``NAME = <a read of current_app.config>`` statements."""
    names = flask_names(tree)
    found: list[tuple[ast.Assign | ast.AnnAssign, str]] = []
    for statement in tree.body:
        if not isinstance(statement, ast.Assign | ast.AnnAssign) or statement.value is None:
            continue
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name):
            continue
        if is_config_read(statement.value, names):
            found.append((statement, targets[0].id))
    return found


# --- create_all ---------------------------------------------------------------------------


def _placement(
    project: Project, path: str, statement: ast.stmt, registration: Registration
) -> _Placement:
    """Where in the registering scope the models are loaded and ``db`` is registered."""
    target = registration.path
    tree = project.ast(target)
    assert tree is not None and registration.index is not None
    if registration.function is None:
        body = tree.body
        if target == path:
            loaded = body.index(statement) - 1
        else:
            loaded = _first_importing(project, target, body, path)
        return _Placement(body, max(registration.index, loaded), None)
    function = next(
        node
        for node in tree.body
        if isinstance(node, FunctionNode) and node.name == registration.function
    )
    body = function.body
    returns = body[-1]
    if not (
        isinstance(returns, ast.Return)
        and isinstance(returns.value, ast.Name)
        and returns.value.id == registration.app_name
    ):
        raise SkipFix(
            f"{registration.function}() in {target} does not end with "
            f"`return {registration.app_name}`"
        )
    if path in modules_run_by(project, target):
        loaded = -1
    else:
        loaded = _first_importing(project, target, body, path)
    return _Placement(body, max(registration.index, loaded), returns)


def _first_importing(project: Project, file: str, body: list[ast.stmt], wanted: str) -> int:
    """The index of the first statement of ``body`` after which ``wanted`` has been imported."""
    for index in range(len(body)):
        if wanted in files_imported_by(project, file, body[: index + 1]):
            return index
    raise SkipFix(
        f"the app never imports {wanted} where it registers the database: tables created there "
        "would not include its models"
    )


def _create_all_call(statement: ast.stmt | None) -> ast.Call | None:
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    func = statement.value.func
    if isinstance(func, ast.Attribute) and func.attr == "create_all":
        if isinstance(func.value, ast.Name):
            return statement.value
    return None


def _is_context_with(statement: ast.stmt, app_name: str) -> bool:
    return isinstance(statement, ast.With) and any(
        isinstance(item.context_expr, ast.Call)
        and isinstance(item.context_expr.func, ast.Attribute)
        and item.context_expr.func.attr == "app_context"
        and isinstance(item.context_expr.func.value, ast.Name)
        and item.context_expr.func.value.id == app_name
        for item in statement.items
    )


def _no_other_uses(project: Project, path: str, line: int) -> None:
    others = [use for use in import_time_uses(project, path) if use.line != line]
    if others:
        raise SkipFix(
            f"{path}:{others[0].line} uses {others[0].what} at import time too; moving one "
            "statement would not make the module importable"
        )


# --- config reads -------------------------------------------------------------------------


def _uses_in_functions(
    tree: ast.Module, source: str, path: str, name: str, assignment: ast.stmt
) -> dict[tuple[int, int], str | None]:
    """Where ``name`` is read, as (line, character column) -> the quote of the f-string it sits
    in (or ``None``); ``SkipFix`` unless every use is a read in a function body that does not
    bind ``name`` itself, and nothing else binds it."""
    uses: dict[tuple[int, int], str | None] = {}
    lines = source.splitlines()
    f_strings = _f_string_quotes(tree, source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            raise SkipFix(f"{path}:{node.lineno} rebinds `{name}` with `global`")
        if isinstance(node, ast.Constant) and node.value == name and _in_all(tree, node):
            raise SkipFix(f"{path} exports `{name}` in `__all__`")
        if not isinstance(node, ast.Name) or node.id != name:
            continue
        if node is _target_of(assignment):
            continue
        if not isinstance(node.ctx, ast.Load):
            raise SkipFix(f"{path}:{node.lineno} assigns `{name}` again")
        scopes = functions_around(tree, node.lineno)
        if not scopes:
            raise SkipFix(f"{path}:{node.lineno} reads `{name}` at import time too")
        if any(_binds(scope, name) for scope in scopes):
            raise SkipFix(f"{path}:{node.lineno} is in a function with its own `{name}`")
        column = len(lines[node.lineno - 1].encode()[: node.col_offset].decode())
        uses[(node.lineno, column)] = f_strings.get(id(node))
    if not uses:
        raise SkipFix(f"no function in {path} reads `{name}`, so where to read it is unclear")
    return uses


def _not_imported_elsewhere(project: Project, path: str, name: str) -> None:
    module = project.module_name(path)
    for file, tree in project_files(project, mentioning=name):
        if file == path:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = project.absolute_module(file, node.module, node.level)
                if source == module and any(a.name in (name, "*") for a in node.names):
                    raise SkipFix(f"{file}:{node.lineno} imports `{name}` from {path}")
                if source and f"{source}." + "".join(a.name for a in node.names[:1]) == module:
                    raise SkipFix(f"{file} imports {module} and may read `{name}` from it")
            elif isinstance(node, ast.Import) and any(a.name == module for a in node.names):
                raise SkipFix(f"{file} imports {module} and may read `{name}` from it")


def _functions_not_called_at_import(
    tree: ast.Module, path: str, name: str, uses: dict[tuple[int, int], str | None]
) -> None:
    """``SkipFix`` when a top-level function that reads ``name`` also runs at import time."""
    readers = {
        statement.name
        for statement in tree.body
        if isinstance(statement, FunctionNode)
        and any(statement.lineno <= line <= (statement.end_lineno or 0) for line, _ in uses)
    }
    for statement in tree.body:
        nodes = (
            [*statement.decorator_list, *statement.args.defaults]
            if isinstance(statement, FunctionNode)
            else [statement]
        )
        for node in (inner for top in nodes for inner in ast.walk(top)):
            if isinstance(node, ast.Name) and node.id in readers and isinstance(node.ctx, ast.Load):
                if isinstance(statement, FunctionNode) or not _only_in_definitions(statement, node):
                    raise SkipFix(
                        f"{path}:{node.lineno} uses `{node.id}()`, which reads `{name}`, at "
                        "import time"
                    )


def _only_in_definitions(statement: ast.stmt, node: ast.AST) -> bool:
    """Whether ``node`` sits in a function or lambda body inside ``statement``."""
    for inner in ast.walk(statement):
        if isinstance(inner, FunctionNode | ast.Lambda) and inner is not statement:
            body = inner.body if isinstance(inner.body, list) else [inner.body]
            if any(node is sub for part in body for sub in ast.walk(part)):
                return True
    return False


def _read_for(read: str, quote: str | None, path: str, line: int) -> str:
    """The read as it can be written at a use: inside an f-string, with the other quotes."""
    if quote is None or quote not in read:
        return read
    other = "'" if quote == '"' else '"'
    if other in read or "\\" in read:
        raise SkipFix(f"{path}:{line} reads it inside an f-string whose quotes the read uses")
    return read.replace(quote, other)


def _f_string_quotes(tree: ast.Module, source: str) -> dict[int, str]:
    """For each ``Name`` inside an f-string: the f-string's quote character, by node id."""
    lines = source.splitlines()
    quotes: dict[int, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = lines[node.lineno - 1].encode()[node.col_offset :].decode()
        quote = next((c for c in text if c in "'\""), '"')
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name):
                quotes[id(inner)] = quote
    return quotes


def _binds(function: FunctionNode, name: str) -> bool:
    arguments = function.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    parameters += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    if any(parameter.arg == name for parameter in parameters):
        return True
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.Import | ast.ImportFrom):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
    return False


def _target_of(statement: ast.stmt) -> ast.expr | None:
    if isinstance(statement, ast.Assign):
        return statement.targets[0]
    if isinstance(statement, ast.AnnAssign):
        return statement.target
    return None


def _in_all(tree: ast.Module, constant: ast.Constant) -> bool:
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                if any(node is constant for node in ast.walk(statement)):
                    return True
    return False


class _InlineName(cst.CSTTransformer):
    """Replaces the names at the given (line, column) positions by the given expressions."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, replacements: dict[tuple[int, int], str]) -> None:
        super().__init__()
        self.replacements = replacements

    def leave_Name(  # noqa: N802 (LibCST's visitor names)
        self, original_node: cst.Name, updated_node: cst.Name
    ) -> cst.BaseExpression:
        start = self.get_metadata(PositionProvider, original_node).start
        text = self.replacements.get((start.line, start.column))
        return cst.parse_expression(text) if text is not None else updated_node


# --- CST edits ----------------------------------------------------------------------------


def _source(project: Project, path: str) -> str:
    source = project.source(path)
    if source is None:
        raise SkipFix(f"{path} is not in the project")
    return source


def _relocated(source: str, path: str, line: int, text: str | None) -> int:
    found = relocate_line(source, line, text)
    if found is None:
        raise SkipFix(f"{path} no longer has the line the event saw")
    return found


def _locate(module: cst.Module, statement: ast.stmt) -> tuple[cst.Module | cst.IndentedBlock, int]:
    chain = statement_chain(module, statement.lineno)
    if not chain:
        raise SkipFix(f"no statement at line {statement.lineno}")
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    for located in chain:
        if positions[located.statement].start.line == statement.lineno:
            return located.block, located.index
    raise SkipFix(f"no statement starts at line {statement.lineno}")


def _new_with(module: cst.Module, header: str, body: str) -> cst.With:
    indent = module.default_indent
    parsed = cst.parse_statement(f"{header}\n{indent}{body}\n", config=module.config_for_parsing)
    assert isinstance(parsed, cst.With)
    return parsed


def _insert_before(
    module: cst.Module,
    anchor: ast.stmt,
    header: str,
    body: str,
    comments: list[cst.EmptyLine],
) -> cst.Module:
    block, index = _locate(module, anchor)

    def edit(statements: list[Statement]) -> list[Statement]:
        following = statements[index]
        leading = [*following.leading_lines, *comments]
        new = _new_with(module, header, body).with_changes(leading_lines=leading)
        return [*statements[:index], new, following, *statements[index + 1 :]]

    return edit_block(module, block, edit)


def _insert_after(
    module: cst.Module,
    anchor: ast.stmt,
    header: str,
    body: str,
    comments: list[cst.EmptyLine],
) -> cst.Module:
    block, index = _locate(module, anchor)
    blank = [cst.EmptyLine(indent=False)]

    def edit(statements: list[Statement]) -> list[Statement]:
        new = _new_with(module, header, body).with_changes(leading_lines=[*blank, *comments])
        rest = list(statements[index + 1 :])
        if rest and not rest[0].leading_lines:
            rest[0] = rest[0].with_changes(leading_lines=blank)
        return [*statements[: index + 1], new, *rest]

    return edit_block(module, block, edit)


def _append_to_with(
    module: cst.Module, existing: ast.stmt, body: str, comments: list[cst.EmptyLine]
) -> cst.Module:
    block, index = _locate(module, existing)
    statement = block.body[index]
    assert isinstance(statement, cst.With) and isinstance(statement.body, cst.IndentedBlock)
    line = cst.parse_statement(f"{body}\n", config=module.config_for_parsing)
    line = line.with_changes(leading_lines=comments)
    return edit_block(module, statement.body, lambda statements: [*statements, line])


def _remove(module: cst.Module, line: int) -> cst.Module:
    """``module`` without its top-level statement at ``line``."""
    chain = statement_chain(module, line)
    if not chain:
        raise SkipFix(f"no statement at line {line}")
    index = chain[0].index
    return edit_block(module, module, lambda body: [*body[:index], *body[index + 1 :]])


def _wrap_in_place(module: cst.Module, line: int, context: str) -> cst.Module:
    index = statement_chain(module, line)[0].index

    def edit(body: list[Statement]) -> list[Statement]:
        statement = body[index]
        wrapped = cst.With(
            items=[cst.WithItem(cst.parse_expression(context))],
            body=cst.IndentedBlock(body=[statement.with_changes(leading_lines=())]),
            leading_lines=statement.leading_lines,
        )
        return [*body[:index], wrapped, *body[index + 1 :]]

    return edit_block(module, module, edit)


def _comments_above(module: cst.Module, line: int) -> list[cst.EmptyLine]:
    """The comment lines right above the top-level statement at ``line``: they describe it, so
    they move with it."""
    chain = statement_chain(module, line)
    if not chain:
        return []
    lines = list(chain[0].statement.leading_lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    if any(line.comment is None for line in lines):
        return []
    return [line.with_changes(indent=True) for line in lines]
