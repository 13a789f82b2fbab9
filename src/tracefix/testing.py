"""Helpers for testing recipes: load a case folder, check fixes and noops.

A case folder (see ``recipes/_base.py``) is a small project as files on disk; this module turns it
into the engine's data (``Project``, ``Event``) so the same fixture serves the unit test of the
codemod, the diagnosis test and the end-to-end test through ``tracefix run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tracefix.diagnose.project import Project
from tracefix.event import Event

#: Folders a case tree never carries into a Project.
SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", "instance", ".git"})


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    project: Project
    event: Event
    command: str
    #: Files after the fix (path -> text); ``None`` for a noop case.
    expected: dict[str, str] | None

    @property
    def is_noop(self) -> bool:
        return self.expected is None


def read_tree(root: Path) -> dict[str, str]:
    """Every text file below ``root``, keyed by POSIX path relative to it."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not SKIPPED_DIRS.intersection(relative.parts):
            if path.suffix in {".pyc", ".db", ".sqlite"}:
                continue
            files[relative.as_posix()] = path.read_text(encoding="utf-8")
    return files


def load_case(case_dir: Path) -> Case:
    expected_dir = case_dir / "expected"
    return Case(
        name=f"{case_dir.parent.parent.name}/{case_dir.name}",
        path=case_dir,
        project=Project(read_tree(case_dir / "project")),
        event=Event.from_dict(json.loads((case_dir / "event.json").read_text(encoding="utf-8"))),
        command=(case_dir / "command.txt").read_text(encoding="utf-8").strip(),
        expected=read_tree(expected_dir) if expected_dir.is_dir() else None,
    )


def case_dirs(recipe_module_file: str) -> list[Path]:
    """The case folders of the recipe whose ``__init__.py`` is ``recipe_module_file``."""
    cases = Path(recipe_module_file).parent / "cases"
    return sorted(p for p in cases.iterdir() if p.is_dir()) if cases.is_dir() else []
