"""Imports a fix adds, placed where isort would put them in the file.

``_codemod.add_imports`` knows nothing of sections: it puts ``import os`` after ``import click``
and a third-party ``from flask import current_app`` among the project's own imports. A fix is
judged by its diff (and by the project's linter, after it), so the fixes that know the project
(``add_project_imports``) place a new module's import in its isort section (standard library,
third party, the project's own), making the section when the file has none, and keep a file's
one-name-per-line style (``force_single_line``). A name from a module the file already imports
from is ``add_imports``' job: it joins that line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Sequence

import libcst as cst

from tracefix.diagnose.project import Project
from tracefix.recipes._codemod import add_imports
from tracefix.recipes._codemod import insert_single_name_line
from tracefix.recipes._codemod import is_import_line
from tracefix.recipes._codemod import names_used

#: isort's sections, in file order.
SECTIONS = ("stdlib", "thirdparty", "firstparty")

Line = cst.SimpleStatementLine | cst.BaseCompoundStatement


def add_project_imports(
    project: Project, module: cst.Module, statements: Sequence[str], *, before: int
) -> cst.Module:
    """``add_imports_in_file_style`` with ``project`` telling its own modules from others."""
    return add_imports_in_file_style(
        module,
        statements,
        before=before,
        is_first_party=lambda top: project.module_path(top) is not None,
    )


def add_imports_in_file_style(
    module: cst.Module,
    statements: Sequence[str],
    *,
    before: int,
    is_first_party: Callable[[str], bool] = lambda module: False,
) -> cst.Module:
    """``module`` with each import in ``statements`` present above ``body[before]``.

    ``is_first_party`` says which top-level modules are the project's own.
    """
    for text in statements:
        node = cst.parse_statement(text, config=module.config_for_parsing)
        placed = _add_single_name_line(module, node, before)
        if placed is None:
            placed = _add_in_section(module, node, before, is_first_party)
        if placed is None:
            module = add_imports(module, [text], before=before)
            continue
        module = placed
        before += 1
    return module


def _add_single_name_line(module: cst.Module, node: Line, before: int) -> cst.Module | None:
    """In a one-name-per-line file, ``from m import n`` next to the file's other ``from m``
    lines; ``None`` when the file is not written that way or does not import from ``m``."""
    single = _single_name_from_import(node)
    lines = _single_name_lines(module, before)
    if single is None or lines is None or single[0] not in lines:
        return None
    source, name = single
    if name in names_used(module):
        return None
    assert isinstance(node, cst.SimpleStatementLine)  # as ``_single_name_from_import`` said
    return insert_single_name_line(module, list(module.body), lines[source], node)


def _add_in_section(
    module: cst.Module, node: Line, before: int, is_first_party: Callable[[str], bool]
) -> cst.Module | None:
    """``node`` (an import from a module the file does not import from yet) in its section:
    in sorted place in the section's block, or in a new block between its neighbours. ``None``
    when the file has no import block on top, has imports below code too, or its blocks are not
    one section each."""
    imported = _top_modules(node)
    if len(imported) != 1 or _bound_names(node) & names_used(module):
        return None
    top = next(iter(imported))
    if _imports_from(module, before, _module_of(node)):
        return None
    body = list(module.body)
    blocks = _import_blocks(body, before)
    if not blocks or any(is_import_line(line) for line in body[blocks[-1][-1] + 1 : before]):
        # Imports below code (``sys.path`` set-up) may need it: ``add_imports`` goes after them.
        return None
    sections = []
    for block in blocks:
        kinds = {_section(m, is_first_party) for i in block for m in _top_modules(body[i])}
        if len(kinds) != 1:
            return None
        sections.append(kinds.pop())
    wanted = _section(top, is_first_party)
    if wanted in sections:
        block = blocks[sections.index(wanted)]
        position = _sorted_position(body, block, node)
        if position == block[0]:
            body[position : position + 1] = [
                node.with_changes(leading_lines=body[position].leading_lines),
                body[position].with_changes(leading_lines=()),
            ]
        else:
            body.insert(position, node.with_changes(leading_lines=()))
        return module.with_changes(body=body)
    rank = SECTIONS.index(wanted)
    following = [b for b, s in zip(blocks, sections, strict=True) if SECTIONS.index(s) > rank]
    blank = [cst.EmptyLine(indent=False)]
    if following:
        first = following[0][0]
        body[first : first + 1] = [
            node.with_changes(leading_lines=body[first].leading_lines),
            body[first].with_changes(leading_lines=blank),
        ]
    else:
        body.insert(blocks[-1][-1] + 1, node.with_changes(leading_lines=blank))
    return module.with_changes(body=body)


def _import_blocks(body: list[Line], before: int) -> list[list[int]]:
    """The import lines at the top of the file (after the docstring and ``__future__``), in
    blocks split by blank lines."""
    blocks: list[list[int]] = []
    for index in range(before):
        line = body[index]
        if not is_import_line(line):
            if blocks or not _is_docstring(line, index):
                break
            continue
        if _top_modules(line) == {"__future__"}:
            continue
        if not blocks or _has_blank_line_above(line):
            blocks.append([index])
        else:
            blocks[-1].append(index)
    return blocks


def _sorted_position(body: list[Line], block: list[int], node: Line) -> int:
    """Where ``node`` goes in ``block``: isort's default puts ``import x`` lines before
    ``from x import y`` lines, each sorted by module, case-insensitively."""
    key = (_is_from(node), _module_of(node).lower())
    for index in block:
        if (_is_from(body[index]), _module_of(body[index]).lower()) > key:
            return index
    return block[-1] + 1


def _section(top: str, is_first_party: Callable[[str], bool]) -> str:
    if not top or is_first_party(top):
        return "firstparty"
    return "stdlib" if top in sys.stdlib_module_names else "thirdparty"


def _imports_from(module: cst.Module, before: int, source: str) -> bool:
    return any(
        _module_of(line) == source
        for line in module.body[:before]
        if is_import_line(line) and _is_from(line)
    )


def _top_modules(line: cst.CSTNode) -> set[str]:
    """The top-level modules an import line imports from (``""`` for a relative import)."""
    found = set()
    for small in _smalls(line):
        if isinstance(small, cst.Import):
            for alias in small.names:
                found.add(_full_name(alias.name).split(".")[0])
        elif isinstance(small, cst.ImportFrom):
            found.add("" if small.relative else _full_name(small.module).split(".")[0])
    return found


def _module_of(line: cst.CSTNode) -> str:
    small = _smalls(line)[0]
    if isinstance(small, cst.Import):
        return _full_name(small.names[0].name)
    assert isinstance(small, cst.ImportFrom)
    return "." * len(small.relative) + _full_name(small.module)


def _bound_names(line: Line) -> set[str]:
    found = set()
    for small in _smalls(line):
        if isinstance(small, cst.Import | cst.ImportFrom) and not isinstance(
            small.names, cst.ImportStar
        ):
            for alias in small.names:
                if alias.asname is not None:
                    found.add(_full_name(alias.asname.name))
                else:
                    name = _full_name(alias.name)
                    found.add(name.split(".")[0] if isinstance(small, cst.Import) else name)
    return found


def _is_from(line: cst.CSTNode) -> bool:
    return isinstance(_smalls(line)[0], cst.ImportFrom)


def _smalls(line: cst.CSTNode) -> Sequence[cst.BaseSmallStatement]:
    return line.body if isinstance(line, cst.SimpleStatementLine) else ()


def _full_name(node: cst.CSTNode | None) -> str:
    return (cst.helpers.get_full_name_for_node(node) or "") if node is not None else ""


def _has_blank_line_above(line: Line) -> bool:
    return any(empty.comment is None for empty in line.leading_lines)


def _is_docstring(line: Line, index: int) -> bool:
    return (
        index == 0
        and isinstance(line, cst.SimpleStatementLine)
        and len(line.body) == 1
        and isinstance(line.body[0], cst.Expr)
        and isinstance(line.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _single_name_from_import(node: Line) -> tuple[str, str] | None:
    """``(module, name)`` of ``from module import name`` (absolute, one name, no alias)."""
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    statement = node.body[0]
    if (
        not isinstance(statement, cst.ImportFrom)
        or statement.relative
        or statement.module is None
        or isinstance(statement.names, cst.ImportStar)
        or len(statement.names) != 1
        or statement.names[0].asname is not None
    ):
        return None
    module = _full_name(statement.module)
    name = _full_name(statement.names[0].name)
    return (module, name) if module and name else None


def _single_name_lines(module: cst.Module, before: int) -> dict[str, list[tuple[int, str]]] | None:
    """The file's ``from`` import lines above ``before`` by module, ``(index, name)`` each, when
    every one of them imports a single name and some module takes two lines; else ``None``."""
    found: dict[str, list[tuple[int, str]]] = {}
    for index, statement in enumerate(module.body[:before]):
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        if any(isinstance(s, cst.ImportFrom) and not s.relative for s in statement.body):
            single = _single_name_from_import(statement)
            if single is None:
                return None
            found.setdefault(single[0], []).append((index, single[1]))
    if not any(len(lines) > 1 for lines in found.values()):
        return None
    return found
