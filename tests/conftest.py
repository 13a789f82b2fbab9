"""Fixtures shared by every test folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path

import pytest

from tracefix.git import git

MakeRepo = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """Build a real git repository in ``tmp_path`` and return its root.

    ``make_repo({"app.py": "...", "data.bin": b"..."}, name="repo", commit=True)``: text is
    dedented, bytes are written as they are. With ``commit`` every file is committed on ``main``
    by a local identity, so tests do not depend on the machine's git configuration.
    """

    def make(
        files: Mapping[str, str | bytes] | None = None,
        *,
        name: str = "repo",
        commit: bool = True,
        message: str = "initial",
    ) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True)
        git("init", "--quiet", "--initial-branch=main", cwd=root)
        for key, value in (
            ("user.name", "tracefix tests"),
            ("user.email", "tests@tracefix.invalid"),
            ("commit.gpgsign", "false"),
        ):
            git("config", key, value, cwd=root)
        write_files(root, files or {})
        if commit:
            git("add", "--all", cwd=root)
            git("commit", "--quiet", "--allow-empty", "-m", message, cwd=root)
        return root

    return make


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
