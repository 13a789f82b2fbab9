"""The isolated worktree: HEAD plus the user's uncommitted work, and nothing left behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tracefix.errors import WorktreeError
from tracefix.git import git
from tracefix.verify.worktree import isolated_worktree

BINARY = bytes(range(256)) * 4


def snapshot(root: Path) -> dict[str, object]:
    """Everything of the user's checkout that verification must not change."""
    files = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    return {
        "files": files,
        "index": hashlib.sha256((root / ".git" / "index").read_bytes()).hexdigest(),
        "status": git("status", "--porcelain", cwd=root).stdout,
        "head": git("rev-parse", "HEAD", cwd=root).stdout,
        "branch": git("symbolic-ref", "HEAD", cwd=root).stdout,
        "worktrees": git("worktree", "list", "--porcelain", cwd=root).stdout,
    }


@pytest.fixture
def dirty_repo(make_repo):
    root = make_repo(
        {
            "app.py": "print('committed')\n",
            "staged.py": "x = 1\n",
            "gone.py": "y = 2\n",
            "data.bin": BINARY,
            "run.sh": "#!/bin/sh\necho hi\n",
            ".gitignore": "ignored.txt\n",
        }
    )
    (root / "run.sh").chmod(0o755)
    git("add", "run.sh", cwd=root)
    git("commit", "--quiet", "-m", "mode", cwd=root)
    (root / "app.py").write_text("print('unstaged edit')\n")
    (root / "staged.py").write_text("x = 'staged'\n")
    git("add", "staged.py", cwd=root)
    (root / "gone.py").unlink()
    (root / "data.bin").write_bytes(BINARY[::-1] + b"\r\n\x00")
    (root / "pkg").mkdir()
    (root / "pkg" / "new.py").write_text("z = 'untracked'\n")
    (root / "ignored.txt").write_text("secret\n")
    return root


def test_worktree_is_head_plus_uncommitted_changes(dirty_repo):
    before = snapshot(dirty_repo)
    with isolated_worktree(dirty_repo) as worktree:
        tree = worktree.path
        assert tree != dirty_repo
        assert (tree / "app.py").read_text() == "print('unstaged edit')\n"
        assert (tree / "staged.py").read_text() == "x = 'staged'\n"
        assert not (tree / "gone.py").exists()
        assert (tree / "data.bin").read_bytes() == BINARY[::-1] + b"\r\n\x00"
        assert (tree / "pkg" / "new.py").read_text() == "z = 'untracked'\n"
        assert os.access(tree / "run.sh", os.X_OK)
        assert (tree / "ignored.txt").read_text() == "secret\n"
        (tree / "app.py").write_text("changed in the worktree\n")
        (tree / "ignored.txt").write_text("changed in the worktree\n")
    assert not tree.exists()
    assert snapshot(dirty_repo) == before


def test_an_untracked_virtualenv_is_left_out_as_an_ignored_one_is(dirty_repo):
    """flask-base's ``.gitignore`` does not name its ``.venv``: copied less what ``env*`` skips
    (jinja2/environment.py), it shadowed the user's, and verification failed."""
    venv = dirty_repo / "venv3" / "lib" / "jinja2"
    venv.mkdir(parents=True)
    (dirty_repo / "venv3" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "__init__.py").write_text("")
    (dirty_repo / "venv3.py").write_text("kept = True\n")
    with isolated_worktree(dirty_repo) as worktree:
        assert not (worktree.path / "venv3").exists()
        assert (worktree.path / "venv3.py").read_text() == "kept = True\n"
        assert (worktree.path / "pkg" / "new.py").exists()


def test_worktree_removed_when_the_block_raises(dirty_repo):
    before = snapshot(dirty_repo)
    with pytest.raises(ValueError), isolated_worktree(dirty_repo) as worktree:
        tree = worktree.path
        raise ValueError("boom")
    assert not tree.exists()
    assert snapshot(dirty_repo) == before


def test_worktree_removed_on_ctrl_c(dirty_repo):
    before = snapshot(dirty_repo)
    with pytest.raises(KeyboardInterrupt), isolated_worktree(dirty_repo) as worktree:
        tree = worktree.path
        raise KeyboardInterrupt
    assert not tree.exists()
    assert not tree.parent.exists()
    assert snapshot(dirty_repo) == before


def test_local_state_is_copied_without_caches_environments_or_oversized_files(
    make_repo, monkeypatch
):
    root = make_repo(
        {"app.py": "x = 1\n", ".gitignore": ".env\ninstance/\n*.db\nmyenv/\n__pycache__/\n"}
    )
    local = {
        ".env": "DATABASE_URL=sqlite:///dev.db\n",
        "instance/config.py": "SECRET_KEY = 'dev'\n",
        "dev.db": "tables",
        "huge.db": "x" * 100,
        "myenv/pyvenv.cfg": "home = /usr/bin\n",
        "myenv/lib/site.py": "x = 1\n",
        "__pycache__/app.cpython-311.pyc": "compiled",
    }
    for relative, text in local.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    monkeypatch.setattr("tracefix.verify.worktree.MAX_LOCAL_FILE_BYTES", 50)

    with isolated_worktree(root) as worktree:
        tree = worktree.path
        for relative in (".env", "instance/config.py", "dev.db"):
            assert (tree / relative).read_text() == local[relative]
        for relative in ("huge.db", "myenv/pyvenv.cfg", "__pycache__/app.cpython-311.pyc"):
            assert not (tree / relative).exists(), relative
        assert worktree.left_out == ["huge.db"]


def test_unborn_head_is_a_worktree_error(make_repo):
    root = make_repo({"app.py": "x = 1\n"}, commit=False)
    with pytest.raises(WorktreeError, match="no commit yet"), isolated_worktree(root):
        pass


def test_git_refusing_is_a_one_line_worktree_error(make_repo):
    root = make_repo({"app.py": "x = 1\n"})
    (root / ".git" / "worktrees").write_text("not a directory")
    with pytest.raises(WorktreeError, match="cannot create a git worktree") as info:
        with isolated_worktree(root):
            pass
    assert "\n" not in str(info.value)
