"""An isolated copy of the user's work tree, so verification never touches their files.

The worktree is ``git worktree add --detach`` of HEAD plus the user's uncommitted changes
(staged or not, deletions, untracked files git does not ignore, less a virtualenv among them).
The changes are carried over by copying the files themselves rather than by ``git diff | git
apply``: a copy is byte-exact for binary files, line endings and clean/smudge filters, where an
applied diff can be rejected.

It also gets copies of the local state git ignores (``.env``, ``instance/``, a SQLite database):
a command or a test suite that needs them would fail in the worktree for a reason that has
nothing to do with the fix. They are copies, so verification never writes to the user's data.
Caches, virtualenvs and build output are left out, and so is whatever exceeds
``MAX_LOCAL_FILE_BYTES`` or, all together, ``MAX_LOCAL_BYTES``: those are reported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from tracefix.errors import WorktreeError
from tracefix.git import NO_HOOKS
from tracefix.git import changed_files
from tracefix.git import git
from tracefix.git import head
from tracefix.git import ignored_local_files
from tracefix.git import untracked_files

MAX_LOCAL_FILE_BYTES = 64 << 20
MAX_LOCAL_BYTES = 256 << 20


@dataclass
class Worktree:
    """An isolated worktree, and the ignored local files that were too big to copy into it."""

    path: Path
    left_out: list[str] = field(default_factory=list)


@contextlib.contextmanager
def isolated_worktree(repo_root: Path) -> Iterator[Worktree]:
    """Yield a fresh worktree: HEAD, the user's uncommitted changes and their local state.

    The worktree is removed on every exit, Ctrl-C included. Raises ``WorktreeError`` when the
    repository has no commit yet or git cannot create the worktree.
    """
    repo_root = Path(repo_root).resolve()
    if head(repo_root) is None:
        raise WorktreeError(
            f"{repo_root} has no commit yet; commit once so tracefix can verify in a worktree"
        )
    parent = Path(tempfile.mkdtemp(prefix="tracefix-")).resolve()
    path = parent / repo_root.name
    try:
        result = git(
            *NO_HOOKS,
            "worktree",
            "add",
            "--detach",
            "--quiet",
            str(path),
            "HEAD",
            cwd=repo_root,
            check=False,
        )
        if not result.ok:
            raise WorktreeError(f"cannot create a git worktree: {_last_line(result.stderr)}")
        worktree = Worktree(path)
        try:
            _copy_uncommitted(repo_root, path)
            worktree.left_out = _copy_local_state(repo_root, path)
        except OSError as exc:
            raise WorktreeError(
                f"cannot copy uncommitted changes into the worktree: {exc}"
            ) from exc
        yield worktree
    finally:
        with _sigint_deferred():
            _remove(repo_root, path, parent)


def _copy_uncommitted(repo_root: Path, worktree: Path) -> None:
    untracked = untracked_files(repo_root)
    # A virtualenv a .gitignore does not name (flask-base's) is untracked, not ignored: it is
    # left out as an ignored one is, or its copy, less what .gitignore patterns such as
    # ``env*`` skip (jinja2/environment.py), would shadow the user's.
    venvs = tuple(
        relative.removesuffix("pyvenv.cfg")
        for relative in untracked
        if relative.endswith("/pyvenv.cfg")
    )
    for relative in [*changed_files(repo_root), *untracked]:
        if not (venvs and relative.startswith(venvs)):
            _mirror(repo_root / relative, worktree / relative)


def _copy_local_state(repo_root: Path, worktree: Path) -> list[str]:
    """Copy the ignored local files into ``worktree``; return those too big to copy."""
    budget = MAX_LOCAL_BYTES
    left_out: list[str] = []
    for relative in ignored_local_files(repo_root):
        source = repo_root / relative
        if source.is_dir() and not source.is_symlink():
            if (source / "pyvenv.cfg").exists():
                continue  # a virtualenv under another name
            files = sorted(p for p in source.rglob("*") if p.is_file() or p.is_symlink())
        else:
            files = [source]
        for file in files:
            name = file.relative_to(repo_root).as_posix()
            size = 0 if file.is_symlink() else file.stat().st_size
            if size > MAX_LOCAL_FILE_BYTES or size > budget:
                left_out.append(name)
                continue
            budget -= size
            _mirror(file, worktree / name)
    return left_out


def _mirror(source: Path, target: Path) -> None:
    """Make ``target`` what ``source`` is: a copy of the file or link, or absent."""
    if source.is_dir() and not source.is_symlink():
        return  # a submodule: its own repository, left as HEAD has it
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    if source.is_symlink():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.readlink(source), target)
    elif source.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _remove(repo_root: Path, path: Path, parent: Path) -> None:
    """Remove the worktree and git's record of it, whatever state creating it reached."""
    git("worktree", "remove", "--force", "--force", str(path), cwd=repo_root, check=False)
    shutil.rmtree(parent, ignore_errors=True)
    git("worktree", "prune", cwd=repo_root, check=False)
    if str(path) in _registered_worktrees(repo_root):
        # Interrupted while git was still creating it: git locks it as "initializing".
        git("worktree", "unlock", str(path), cwd=repo_root, check=False)
        git("worktree", "prune", cwd=repo_root, check=False)


def _registered_worktrees(repo_root: Path) -> set[str]:
    result = git("worktree", "list", "--porcelain", cwd=repo_root, check=False)
    return {
        line.removeprefix("worktree ")
        for line in result.stdout.splitlines()
        if line.startswith("worktree ")
    }


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a second Ctrl-C until cleanup is done; it is raised right after."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("fatal: ") if lines else "git gave no reason"
