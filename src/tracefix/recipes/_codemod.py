"""LibCST helpers every context fix needs: find a statement, wrap it, import and bind the app.

A fix is judged by its diff, so each helper edits only the statements it is given and keeps
everything else byte for byte: comments, blank lines, quotes and the file's indentation. Edits
work on node identity (LibCST trees are immutable), so locate first, then edit the tree you
located in.

Typical use, from a recipe's ``fix``::

    module = project.cst(path)
    chain = statement_chain(module, line)          # outermost statement first
    module = add_imports(module, ["from app import create_app"], before=chain[0].index)
    chain = statement_chain(module, line + shift)  # or locate again by text
    module = wrap_statements(module, chain[-1].block, start, end, "app.app_context()",
                             before=["app = create_app()"])
"""

from __future__ import annotations

import symtable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TypeGuard
from typing import cast

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.recipes._base import SkipFix

Block = cst.Module | cst.IndentedBlock
#: What a block's ``body`` holds: both kinds carry ``leading_lines``.
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement

#: Methods whose call makes a context: ``<x>.app_context()``, ``<x>.test_request_context(...)``...
CONTEXT_METHOD_NAMES = frozenset(
    {"app_context", "test_request_context", "request_context", "test_client"}
)


@dataclass(frozen=True)
class Located:
    """One statement that spans a line, and the block whose ``body`` holds it."""

    block: Block = field(repr=False)
    index: int

    @property
    def statement(self) -> Statement:
        return cast(Statement, self.block.body[self.index])


def statement_chain(module: cst.Module, line: int) -> tuple[Located, ...]:
    """The statements spanning ``line``, outermost first, each with the block it sits in.

    Descends only into indented blocks; a one-line body (``if x: y()``) ends the chain at its
    compound statement. Empty when no statement spans the line (a blank line or a comment).
    """
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    chain: list[Located] = []
    blocks: list[Block] = [module]
    while blocks:
        block = blocks.pop()
        for index, statement in enumerate(block.body):
            where = positions[statement]
            if where.start.line <= line <= where.end.line:
                chain.append(Located(block, index))
                blocks = [b for b in _indented_blocks(statement) if _spans(positions, b, line)]
                break
    return tuple(chain)


def line_of(module: cst.Module, node: cst.CSTNode) -> int:
    """The first line of ``node`` in ``module`` (comments above it excluded)."""
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return positions[node].start.line


def relocate_line(source: str, line: int, text: str | None) -> int | None:
    """Where the line an event saw as ``text`` at ``line`` is in ``source`` now.

    The event may be older than the code (a fix ran, lines moved). ``line`` itself wins when it
    still reads ``text``; otherwise the one line that does; ``None`` when none or several do.
    Without ``text`` the line is trusted as it is.
    """
    lines = source.splitlines()
    if text is None or not text.strip():
        return line if 1 <= line <= len(lines) else None
    wanted = text.strip()
    if 1 <= line <= len(lines) and lines[line - 1].strip() == wanted:
        return line
    matches = [number for number, current in enumerate(lines, 1) if current.strip() == wanted]
    return matches[0] if len(matches) == 1 else None


# Plain isinstance checks rather than libcst.matchers: importing that generated module costs
# a quarter of a second, more than the rest of tracefix's own work on a run.


def is_main_guard(node: cst.CSTNode) -> bool:
    """``if __name__ == "__main__":`` in either operand order and with either quote."""
    if not isinstance(node, cst.If) or not isinstance(node.test, cst.Comparison):
        return False
    test = node.test
    if len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    operands = (test.left, test.comparisons[0].comparator)
    return any(
        _is_name(first, "__name__") and _is_main_string(second)
        for first, second in (operands, operands[::-1])
    )


def is_import_line(node: cst.CSTNode) -> bool:
    """A statement line made of imports only."""
    return (
        isinstance(node, cst.SimpleStatementLine)
        and bool(node.body)
        and all(isinstance(small, cst.Import | cst.ImportFrom) for small in node.body)
    )


def is_docstring_line(node: cst.CSTNode) -> bool:
    """A line holding only a string literal: a module's or function's docstring."""
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and isinstance(node.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def is_context_call(node: cst.CSTNode) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in CONTEXT_METHOD_NAMES
    )


def top_level_function(module: cst.Module, name: str) -> cst.FunctionDef:
    """The module's last top-level ``def name`` (the one Python keeps); ``SkipFix`` if none."""
    found = [s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
    if not found:
        raise SkipFix(f"there is no top-level function {name}()")
    return found[-1]


def is_context_with(node: cst.CSTNode) -> bool:
    """Whether ``node`` is a ``with`` statement one of whose items makes a context."""
    return isinstance(node, cst.With) and any(is_context_call(item.item) for item in node.items)


def is_call_of(node: cst.CSTNode, name: str) -> TypeGuard[cst.Call]:
    """A call of ``name`` or of ``<anything>.name``."""
    return isinstance(node, cst.Call) and (
        _is_name(node.func, name)
        or (isinstance(node.func, cst.Attribute) and node.func.attr.value == name)
    )


def _is_name(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _is_main_string(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.SimpleString) and node.value.strip("'\"") == "__main__"


def edit_block(
    module: cst.Module,
    block: Block,
    edit: Callable[[list[Statement]], Sequence[Statement]],
) -> cst.Module:
    """``module`` with ``block``'s statements replaced by ``edit(statements)``."""
    body = edit([cast(Statement, statement) for statement in block.body])
    if block is module:
        return module.with_changes(body=body)
    replaced = module.deep_replace(block, block.with_changes(body=body))
    assert isinstance(replaced, cst.Module)
    return replaced


def wrap_statements(
    module: cst.Module,
    block: Block,
    start: int,
    end: int,
    expression: str,
    *,
    before: Sequence[str] = (),
) -> cst.Module:
    """Put ``block.body[start:end]`` under ``with <expression>:``, after the ``before`` lines.

    Blank lines above the first statement stay above (on the first ``before`` line, or on the
    ``with``); comments right above it move in with it, since they describe it. At module level
    the ``with`` is set off by one blank line from the ``before`` lines.
    """
    at_module_level = block is module

    def edit(body: list[Statement]) -> list[Statement]:
        first = body[start]
        outside, inside = _split_leading_lines(first.leading_lines)
        moved = [
            _unindent_blank_lines(statement, inside if position == 0 else None)
            for position, statement in enumerate(body[start:end])
        ]
        wrapped = cst.With(
            items=[cst.WithItem(cst.parse_expression(expression))],
            body=cst.IndentedBlock(body=moved),
        )
        added = [cst.parse_statement(text, config=module.config_for_parsing) for text in before]
        if added:
            if at_module_level and not outside and start > 0:
                outside = [cst.EmptyLine()]
            added[0] = added[0].with_changes(leading_lines=outside)
            wrapped = wrapped.with_changes(
                leading_lines=[cst.EmptyLine()] if at_module_level else []
            )
        else:
            wrapped = wrapped.with_changes(leading_lines=outside)
        return [*body[:start], *added, wrapped, *body[end:]]

    return edit_block(module, block, edit)


def expand_one_line_body(module: cst.Module, statement: cst.BaseCompoundStatement) -> cst.Module:
    """``module`` with ``if x: a(); b()`` rewritten as an indented block, so it can be wrapped."""
    suite = statement.body
    if not isinstance(suite, cst.SimpleStatementSuite):
        return module
    line = cst.SimpleStatementLine(
        body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for small in suite.body],
        trailing_whitespace=suite.trailing_whitespace,
    )
    replaced = module.deep_replace(
        statement, statement.with_changes(body=cst.IndentedBlock([line]))
    )
    assert isinstance(replaced, cst.Module)
    return replaced


def add_imports(module: cst.Module, statements: Iterable[str], *, before: int) -> cst.Module:
    """``module`` with each import statement in ``statements`` present above ``body[before]``.

    Call it before adding the code that uses the names, or the names look taken.

    An import already there is left alone; a name from a module the file already imports from
    (``from app import db``) joins that line in sorted position; any other import goes after the
    last import line above ``before`` (after the docstring when there is none), so it lands
    below ``sys.path`` set-up that the imports above depend on. Raises ``SkipFix`` when a name to
    import is already bound to something else.
    """
    for text in statements:
        module, inserted = _add_import(module, text, before)
        before += inserted
    return module


def free_name(module: cst.Module, candidates: Sequence[str] = ("app", "flask_app")) -> str | None:
    """The first of ``candidates`` that a new module-level binding can take without a clash."""
    used = names_used(module)
    return next((name for name in candidates if name not in used), None)


def names_used(module: cst.Module) -> set[str]:
    """The names a new module-level binding would clash with.

    Those the module binds or reads at its top level, and the globals any function or class in
    it reads; a function's own locals and parameters (``app`` inside ``create_app``) do not
    count.
    """
    table = symtable.symtable(module.code, "<module>", "exec")
    names = set(table.get_identifiers())
    pending = list(table.get_children())
    while pending:
        scope = pending.pop()
        names.update(symbol.get_name() for symbol in scope.get_symbols() if symbol.is_global())
        pending.extend(scope.get_children())
    return names


def wrappable_run(
    body: Sequence[Statement],
    index: int,
    *,
    stop: Callable[[Statement], bool] = lambda statement: False,
) -> tuple[int, int]:
    """The contiguous statements around ``body[index]`` that may go under a ``with``.

    A run stops at imports, function and class definitions, a module docstring, an
    ``if __name__ == "__main__":`` block and any statement ``stop`` rejects. Returns ``(start,
    end)`` for ``body[start:end]``.
    """

    def wrappable(position: int) -> bool:
        statement = body[position]
        return not (
            is_import_line(statement)
            or isinstance(statement, cst.FunctionDef | cst.ClassDef)
            or (position == 0 and is_docstring_line(statement))
            or is_main_guard(statement)
            or stop(statement)
        )

    start = index
    while start > 0 and wrappable(start - 1):
        start -= 1
    end = index + 1
    while end < len(body) and wrappable(end):
        end += 1
    return start, end


# --- internals ----------------------------------------------------------------------------


def _indented_blocks(statement: cst.CSTNode) -> list[cst.IndentedBlock]:
    """The indented blocks that belong to ``statement`` itself (body, elif, else, except...)."""
    found: list[cst.IndentedBlock] = []
    pending = list(statement.children)
    while pending:
        node = pending.pop(0)
        if isinstance(node, cst.IndentedBlock):
            found.append(node)
        else:
            pending.extend(node.children)
    return found


def _spans(positions: object, block: cst.IndentedBlock, line: int) -> bool:
    if not block.body:
        return False
    first = positions[block.body[0]]  # type: ignore[index]
    last = positions[block.body[-1]]  # type: ignore[index]
    return bool(first.start.line <= line <= last.end.line)


def _unindent_blank_lines(
    statement: Statement, leading_lines: Sequence[cst.EmptyLine] | None
) -> Statement:
    """``statement`` whose blank lines above stay empty once it is indented (no trailing spaces)."""
    lines = statement.leading_lines if leading_lines is None else leading_lines
    return statement.with_changes(
        leading_lines=[
            line.with_changes(indent=False) if line.comment is None else line for line in lines
        ]
    )


def _split_leading_lines(
    lines: Sequence[cst.EmptyLine],
) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Blank lines up to the first comment, and the rest (the comment block and what follows)."""
    for position, line in enumerate(lines):
        if line.comment is not None:
            return list(lines[:position]), list(lines[position:])
    return list(lines), []


def _add_import(module: cst.Module, text: str, before: int) -> tuple[cst.Module, int]:
    """``module`` with the import ``text``, and how many lines were inserted above ``before``."""
    new = cst.parse_statement(text, config=module.config_for_parsing)
    assert isinstance(new, cst.SimpleStatementLine)
    node = new.body[0]
    body = list(module.body)
    imports = [(i, s) for i, s in enumerate(body[:before]) if is_import_line(s)]
    for alias_name, bound in _aliases(node):
        if _imported(body[:before], node, alias_name, bound):
            continue
        if bound in names_used(module):
            raise SkipFix(f"the name {bound!r} is already used in the file")
    if all(_imported(body[:before], node, a, b) for a, b in _aliases(node)):
        return module, 0
    if (
        isinstance(node, cst.ImportFrom)
        and not node.relative
        and not isinstance(node.names, cst.ImportStar)
    ):
        target = cst.helpers.get_full_name_for_node(node.module) if node.module else None
        single = _single_name_lines(imports, target)
        if single and len(node.names) == 1:
            return insert_single_name_line(module, body, single, new), 1
        for index, line in reversed(imports):
            merged = _merge_into(line, target, node)
            if merged is not None:
                body[index] = merged
                return module.with_changes(body=body), 0
    position, takes_over = _import_position(body, before, node)
    if takes_over:
        new = new.with_changes(leading_lines=body[position].leading_lines)
        body[position] = body[position].with_changes(leading_lines=())
    body.insert(position, new)
    return module.with_changes(body=body), 1


def _import_position(
    body: Sequence[Statement], before: int, node: cst.BaseSmallStatement
) -> tuple[int, bool]:
    """Where a new import line goes, and whether it takes over the blank lines above that spot.

    Among the last run of import lines above ``before`` (below any code such as ``sys.path``
    set-up): ``import x`` goes into the first group of ``import`` lines (the standard library's,
    usually), else first; ``from x import y`` into the last group of ``from`` lines (the
    project's, usually), else last. In its group, a line goes in sorted place when the group is
    sorted, else at its end.
    """
    imports = [index for index in range(before) if is_import_line(body[index])]
    if not imports:
        return _after_docstring(body), False
    region = [imports[-1]]
    while region[0] > 0 and is_import_line(body[region[0] - 1]):
        region.insert(0, region[0] - 1)
    same_kind = [i for i in region if all(type(s) is type(node) for s in _smalls(body[i]))]
    if not same_kind:
        return (region[0], True) if isinstance(node, cst.Import) else (region[-1] + 1, False)
    groups: list[list[int]] = []
    for index in same_kind:
        if groups and index == groups[-1][-1] + 1 and not body[index].leading_lines:
            groups[-1].append(index)
        else:
            groups.append([index])
    group = groups[0] if isinstance(node, cst.Import) else groups[-1]
    keys = [_module_key(_smalls(body[index])[0]) for index in group]
    if keys == sorted(keys):
        new_key = _module_key(node)
        for index, key in zip(group, keys, strict=True):
            if new_key < key:
                return index, True
    return group[-1] + 1, False


def _smalls(statement: Statement) -> Sequence[cst.BaseSmallStatement]:
    return statement.body if isinstance(statement, cst.SimpleStatementLine) else ()


def _module_key(node: cst.BaseSmallStatement) -> str:
    if isinstance(node, cst.ImportFrom) and node.module is not None:
        return (cst.helpers.get_full_name_for_node(node.module) or "").lower()
    if isinstance(node, cst.Import):
        return (cst.helpers.get_full_name_for_node(node.names[0].name) or "").lower()
    return ""


def _aliases(node: cst.BaseSmallStatement) -> list[tuple[str, str]]:
    """(imported dotted name, name it binds) for each alias of an import statement."""
    result = []
    if isinstance(node, cst.Import | cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
        for alias in node.names:
            name = cst.helpers.get_full_name_for_node(alias.name) or ""
            asname = alias.asname
            bound = (
                cst.helpers.get_full_name_for_node(asname.name) or ""
                if asname is not None
                else (name.split(".")[0] if isinstance(node, cst.Import) else name)
            )
            result.append((name, bound))
    return result


def _imported(
    statements: Sequence[Statement], node: cst.BaseSmallStatement, name: str, bound: str
) -> bool:
    """Whether ``statements`` already import ``name`` as ``bound`` the way ``node`` does."""
    wanted_module = (
        cst.helpers.get_full_name_for_node(node.module)
        if isinstance(node, cst.ImportFrom) and node.module
        else None
    )
    for statement in statements:
        if not is_import_line(statement):
            continue
        for small in _smalls(statement):
            if type(small) is not type(node):
                continue
            if isinstance(small, cst.ImportFrom):
                if small.relative or not small.module:
                    continue
                if cst.helpers.get_full_name_for_node(small.module) != wanted_module:
                    continue
            for existing, existing_bound in _aliases(small):
                if (existing, existing_bound) == (name, bound):
                    return True
                if isinstance(small, cst.Import) and existing.startswith(name + "."):
                    return existing_bound == bound
    return False


def _merge_into(
    line: Statement, target: str | None, node: cst.ImportFrom
) -> cst.SimpleStatementLine | None:
    """``line`` with ``node``'s names added, if it is a one-line ``from target import`` or a
    parenthesised one (one name per line, as black writes it, its commas kept), and not a line
    of ``as`` names only (isort keeps ``from flask import current_app as app`` apart)."""
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    existing = line.body[0]
    if (
        not isinstance(existing, cst.ImportFrom)
        or existing.relative
        or existing.module is None
        or isinstance(existing.names, cst.ImportStar)
        or cst.helpers.get_full_name_for_node(existing.module) != target
        or all(alias.asname is not None for alias in existing.names)
    ):
        return None
    names = list(existing.names)
    parenthesised = existing.lpar is not None
    assert not isinstance(node.names, cst.ImportStar)
    for alias in node.names:
        key = _import_order([_alias_text(a) for a in names])
        added = alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        position = (
            len(names)
            if key is None
            else sum(1 for a in names if key(_alias_text(a)) <= key(_alias_text(added)))
        )
        if parenthesised:
            # Between names, the comma (and line break) that separates them; a name added last
            # takes the last one's own, trailing comma or none.
            between = _separator(existing, names)
            if position == len(names):
                added = added.with_changes(comma=names[-1].comma)
                names[-1] = names[-1].with_changes(comma=between)
            else:
                added = added.with_changes(comma=between)
        names.insert(position, added)
    if not parenthesised:
        names = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in names]
    return line.with_changes(body=[existing.with_changes(names=names)])


def _separator(line: cst.ImportFrom, names: Sequence[cst.ImportAlias]) -> cst.Comma:
    """The comma between two names of the parenthesised import ``line``: the one it has, or,
    with a single name, a comma followed by what follows its ``(`` (a line break and indent)."""
    if len(names) > 1 and isinstance(names[0].comma, cst.Comma):
        return names[0].comma
    assert line.lpar is not None
    after = line.lpar.whitespace_after
    return cst.Comma(
        whitespace_after=after
        if isinstance(after, cst.ParenthesizedWhitespace)
        else cst.SimpleWhitespace(" ")
    )


def _single_name_lines(
    imports: Sequence[tuple[int, Statement]], target: str | None
) -> list[tuple[int, str]]:
    """``(index, name)`` of the file's ``from target import name`` lines, when it writes one name
    per line (at least two such lines, none with more); empty otherwise."""
    found: list[tuple[int, str]] = []
    for index, line in imports:
        for small in _smalls(line):
            if (
                not isinstance(small, cst.ImportFrom)
                or small.relative
                or small.module is None
                or cst.helpers.get_full_name_for_node(small.module) != target
            ):
                continue
            if isinstance(small.names, cst.ImportStar) or len(small.names) != 1:
                return []
            found.append((index, _alias_text(small.names[0])))
    return found if len(found) >= 2 else []


def insert_single_name_line(
    module: cst.Module,
    body: list[Statement],
    lines: list[tuple[int, str]],
    new: cst.SimpleStatementLine,
) -> cst.Module:
    """``module`` with ``new`` among the one-name ``lines`` of its module, in their order."""
    assert isinstance(new.body[0], cst.ImportFrom)
    assert not isinstance(new.body[0].names, cst.ImportStar)
    name = _alias_text(new.body[0].names[0])
    key = _import_order([text for _, text in lines]) or (lambda text: (0, text.lower()))
    after = [index for index, text in lines if key(text) <= key(name)]
    if after:
        body.insert(after[-1] + 1, new.with_changes(leading_lines=()))
    else:
        first = lines[0][0]
        body[first : first + 1] = [
            new.with_changes(leading_lines=body[first].leading_lines),
            body[first].with_changes(leading_lines=()),
        ]
    return module.with_changes(body=body)


def _alias_text(alias: cst.ImportAlias) -> str:
    return cst.helpers.get_full_name_for_node(alias.name) or ""


def _import_order(names: Sequence[str]) -> Callable[[str], tuple[int, str]] | None:
    """The order ``names`` are in (isort's: constants, classes, functions; or plain), if any."""

    def by_type(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
        return kind, name.lower()

    def plain(name: str) -> tuple[int, str]:
        return 0, name.lower()

    for key in (by_type, plain):
        if list(names) == sorted(names, key=key):
            return key
    return None


def _after_docstring(body: Sequence[Statement]) -> int:
    return 1 if body and is_docstring_line(body[0]) else 0
