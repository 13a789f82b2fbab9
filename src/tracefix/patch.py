"""The patch: whole-file changes, as the fix stage writes them and verify and deliver read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileChange:
    """A whole-file change. ``before`` is ``None`` when the fix creates the file."""

    path: str
    before: str | None
    after: str

    def diff(self) -> str:
        import difflib  # only diffs need it, not every scan that imports the recipes

        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        lines = difflib.unified_diff(
            before,
            after,
            fromfile="/dev/null" if self.before is None else f"a/{self.path}",
            tofile=f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
