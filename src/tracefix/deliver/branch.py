"""Commit a verified fix on a new branch without touching the user's checkout.

Everything goes through git plumbing and a temporary index (``GIT_INDEX_FILE``): the user's
work tree, index and current branch stay exactly as they were, even with uncommitted work in
them. Each blob is hashed with the path's filters, as ``git add`` of the applied fix would.
The branch is created with ``update-ref <ref> <sha> ''``, which fails if it already exists, so
two runs can never overwrite each other's branch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from tracefix.deliver.apply import as_text
from tracefix.deliver.apply import encode_like
from tracefix.errors import DeliveryError
from tracefix.git import current_branch
from tracefix.git import git
from tracefix.git import head
from tracefix.patch import FileChange

DEFAULT_BRANCHES = frozenset({"main", "master"})
NEW_FILE_MODE = "100644"


def default_branch_name(code: str, event_id: str) -> str:
    """``tracefix/ctx101-1a2b3c4d``: the recipe and the event, so a branch names its failure."""
    return f"tracefix/{code.lower()}-{event_id[:8]}"


def commit_on_new_branch(
    repo_root: Path, changes: Sequence[FileChange], branch: str, message: str
) -> str:
    """Commit ``changes`` on top of HEAD as the new branch ``branch``; return the commit's sha.

    Raises ``DeliveryError`` when the name is invalid, names the current or the default branch
    or an existing one, when a changed file differs from HEAD, or when git refuses.
    """
    root = Path(repo_root)
    _check_branch_name(root, branch)
    parent = head(root)
    if parent is None:
        raise DeliveryError(
            "the repository has no commit yet; commit once, then run tracefix again"
        )
    with tempfile.TemporaryDirectory(prefix="tracefix-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(root, "read-tree", parent, env=env)
        for number, change in enumerate(changes):
            mode, blob = _current_entry(root, change.path, env)
            committed = _blob_text(root, blob) if blob else None
            if committed != change.before:
                raise DeliveryError(
                    f"{change.path} differs from HEAD; commit or stash your changes to it first"
                )
            staged = Path(scratch) / f"blob-{number}"
            staged.write_bytes(encode_like(change.after, _work_tree_bytes(root, change.path)))
            sha = _git(root, "hash-object", "-w", f"--path={change.path}", str(staged))
            _git(
                root, "update-index", "--add", "--cacheinfo", f"{mode},{sha},{change.path}", env=env
            )
        tree = _git(root, "write-tree", env=env)
    commit = _git(root, "commit-tree", tree, "-p", parent, "-m", message)
    _git(root, "update-ref", "-m", f"tracefix: create {branch}", f"refs/heads/{branch}", commit, "")
    return commit


def _check_branch_name(root: Path, branch: str) -> None:
    valid = git("check-ref-format", "--branch", branch, cwd=root, check=False)
    if branch.startswith("-") or not valid.ok or valid.stdout.strip() != branch:
        raise DeliveryError(f"{branch!r} is not a valid branch name; pick another with --branch")
    if branch == current_branch(root):
        raise DeliveryError(
            f"{branch} is your current branch; tracefix only commits on a new branch"
        )
    if branch in _default_branches(root):
        raise DeliveryError(
            f"{branch} is the default branch; tracefix only commits on a new branch"
        )
    exists = git("show-ref", "--verify", "--quiet", f"refs/heads/{branch}", cwd=root, check=False)
    if exists.ok:
        raise DeliveryError(f"branch {branch} already exists; pick another name with --branch")


def _default_branches(root: Path) -> set[str]:
    names = set(DEFAULT_BRANCHES)
    origin = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", cwd=root, check=False)
    if origin.ok:
        names.add(origin.stdout.strip().removeprefix("refs/remotes/origin/"))
    configured = git("config", "--get", "init.defaultBranch", cwd=root, check=False)
    if configured.ok and configured.stdout.strip():
        names.add(configured.stdout.strip())
    return names


def _current_entry(root: Path, path: str, env: dict[str, str]) -> tuple[str, str | None]:
    """The mode and blob of ``path`` in the temporary index; a new file's mode when absent."""
    listed = _git(root, "ls-files", "--stage", "-z", "--", path, env=env)
    entry = listed.split("\0")[0]
    if not entry:
        return NEW_FILE_MODE, None
    mode, blob, _ = entry.split(" ", 2)
    if mode not in {"100644", "100755"}:
        raise DeliveryError(
            f"{path} is not a regular file in HEAD; tracefix cannot commit a fix to it"
        )
    return mode, blob


def _blob_text(root: Path, blob: str) -> str | None:
    """The blob as ``read_project`` reads files (universal newlines), to compare with ``before``."""
    return as_text(_git(root, "cat-file", "blob", blob, strip=False).encode("utf-8"))


def _work_tree_bytes(root: Path, path: str) -> bytes:
    """The user's copy of ``path``: its line endings are the ones ``git add`` expects to clean."""
    try:
        return (root / path).read_bytes()
    except OSError:
        return b""


def _git(root: Path, *args: str, env: dict[str, str] | None = None, strip: bool = True) -> str:
    result = git(*args, cwd=root, env=env, check=False)
    if not result.ok:
        reason = next(
            (line for line in reversed(result.stderr.splitlines()) if line.strip()), "no reason"
        )
        raise DeliveryError(f"git {args[0]} failed: {reason.strip().removeprefix('fatal: ')}")
    return result.stdout.strip() if strip else result.stdout
