"""``# tracefix: ignore[CTX101]`` comments: the findings a line's author has looked at.

The comment goes on the line a finding reports. With codes (``ignore[CTX101, CTX104]``) it
suppresses only those codes there; bare (``# tracefix: ignore``) it suppresses every code on
that line. Only real comments count: the text inside a string does not.
"""

from __future__ import annotations

import io
import re
import tokenize

_COMMENT = re.compile(r"#\s*tracefix:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)

#: Per line: the codes suppressed there, or ``None`` for every code.
Suppressions = dict[int, frozenset[str] | None]


def suppressions(source: str) -> Suppressions:
    """The suppression comments of ``source``, by line."""
    if "tracefix" not in source.lower():
        return {}
    found: Suppressions = {}
    for line, comment in _comments(source):
        match = _COMMENT.search(comment)
        if match is None:
            continue
        codes = match.group("codes")
        if codes is None:
            found[line] = None
        elif found.get(line, frozenset()) is not None:
            named = frozenset(c.strip().upper() for c in re.split(r"[,\s]+", codes) if c.strip())
            found[line] = (found.get(line) or frozenset()) | named
    return found


def is_suppressed(table: Suppressions, line: int, code: str) -> bool:
    if line not in table:
        return False
    codes = table[line]
    return codes is None or code.upper() in codes


def _comments(source: str) -> list[tuple[int, str]]:
    try:
        return [
            (token.start[0], token.string)
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        return [
            (number, line[line.index("#") :])
            for number, line in enumerate(source.splitlines(), 1)
            if "#" in line
        ]
