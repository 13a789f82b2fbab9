"""Shared by the benchmark scripts: rewrite one section of BENCHMARKS.md, keeping the others."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, heading: str, text: str) -> None:
    """Put ``text`` (which starts with ``heading``) in place of that section, or append it."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    if heading in current:
        head, _, rest = current.partition(heading)
        tail = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        current = head + text.rstrip() + "\n" + ("\n" + tail if tail else "")
    else:
        current = current.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(current)
