"""Fast forms of ``ast``'s walks, for code that walks every tree of a project (``tracefix scan``).

``child_nodes(node)`` is ``list(ast.iter_child_nodes(node))``, the same nodes in the same order,
at half the cost: a generator per node, and one more for its fields, add up over the half a
million nodes of a large project. ``walk`` is ``ast.walk`` on top of it. ``line_numbers``
matches a text search to the nodes' lines, so a walk can pass over what the text rules out.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections import deque
from collections.abc import Iterable
from collections.abc import Iterator


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """``list(ast.iter_child_nodes(node))``."""
    found: list[ast.AST] = []
    for name in node._fields:
        try:
            value = getattr(node, name)
        except AttributeError:
            continue
        if isinstance(value, ast.AST):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    found.append(item)
    return found


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk(node)``: the same nodes in the same order (breadth first)."""
    pending = deque([node])
    while pending:
        node = pending.popleft()
        pending.extend(child_nodes(node))
        yield node


def lines_matching(source: str | None, pattern: re.Pattern[str]) -> list[int] | None:
    """The numbers of the lines of ``source`` where ``pattern`` matches (in code, a string or
    a comment alike), ascending; ``None`` when the text cannot tell: line ends other than
    ``\\n`` (``ast`` counts a lone ``\\r`` too), or non-ASCII text (Python reads names
    NFKC-normalised, so a keyword or a name may be spelt in other characters)."""
    if source is None or "\r" in source or not source.isascii():
        return None
    return line_numbers(source, (match.start() for match in pattern.finditer(source)))


def spans_none_of(node: ast.AST, lines: list[int] | None) -> bool:
    """Whether no line from ``node``'s first to its last is in ``lines`` (``lines_matching``'s
    answer); false when the text could not tell."""
    if lines is None:
        return False
    start = getattr(node, "lineno", None)
    if start is None:
        return False
    index = bisect.bisect_left(lines, start)
    return index == len(lines) or lines[index] > (getattr(node, "end_lineno", None) or start)


def unmarked_expression(node: ast.AST, lines: list[int] | None) -> bool:
    """Whether ``node`` is an expression that is no target (its context neither stores nor
    deletes) and spans none of ``lines``: a walk that looks only for what needs a word those
    lines spell (``:=``, ``for``, ``yield``) can pass over it."""
    return (
        isinstance(node, ast.expr)
        and not isinstance(getattr(node, "ctx", None), ast.Store | ast.Del)
        and spans_none_of(node, lines)
    )


def line_numbers(source: str, offsets: Iterable[int]) -> list[int]:
    """The 1-based numbers of the lines of ``source`` that hold ``offsets`` (ascending), each
    once: where a text search found something, to compare with the nodes' ``lineno``."""
    numbers: list[int] = []
    line, counted = 1, 0
    for offset in offsets:
        line += source.count("\n", counted, offset)
        counted = offset
        if not numbers or numbers[-1] != line:
            numbers.append(line)
    return numbers
