"""The git edge: everything tracefix asks of the user's repository goes through here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tracefix import _process
from tracefix.diagnose.dependencies import is_requirements_file
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_name
from tracefix.diagnose.project import project_code_paths
from tracefix.errors import NotAGitRepository

#: Files besides Python sources that the engine reads: test configuration and dependencies
#: (a project on pytest-flask has a request context pushed in every test, for instance).
PROJECT_CONFIG_FILES = frozenset({"pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini"})
MAX_FILE_BYTES = 1 << 20
#: Hooks of the user's repository never run from tracefix's git commands (post-checkout
#: would run on every worktree we create).
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def git(
    *args: str,
    cwd: str | Path,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = None,
) -> _process.Result:
    """Run git without inherited ``GIT_*`` variables; ``env`` adds variables of our own.
    ``timeout`` (seconds) kills git and what it started, and fails the result.

    ``GIT_OPTIONAL_LOCKS=0`` stops read-only commands (``diff``, ``status``) from refreshing and
    rewriting the user's index behind their back.
    """
    return _process.run(
        ["git", *args],
        cwd=cwd,
        env={**_process.no_git_env(), "GIT_OPTIONAL_LOCKS": "0", **(env or {})},
        check=check,
        input=input,
        timeout=timeout,
    )


def toplevel(path: str | Path) -> Path:
    """The root of the work tree containing ``path``; ``NotAGitRepository`` if there is none."""
    result = git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if not result.ok:
        raise NotAGitRepository(f"{Path(path).resolve()} is not inside a git repository")
    return Path(result.stdout.strip())


def head(root: Path) -> str | None:
    """The commit HEAD points at, or ``None`` while the repository has no commit yet."""
    result = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=root, check=False)
    return result.stdout.strip() if result.ok else None


def current_branch(root: Path) -> str | None:
    """The short name of the checked-out branch, or ``None`` on a detached HEAD."""
    result = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=root, check=False)
    return result.stdout.strip() if result.ok else None


def listed_files(root: Path) -> list[str]:
    """Tracked files plus untracked ones git does not ignore, as POSIX paths from ``root``."""
    result = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root)
    return sorted({p for p in result.stdout.split("\0") if p})


def untracked_files(root: Path) -> list[str]:
    """Untracked files git does not ignore, as POSIX paths from ``root``."""
    result = git("ls-files", "-z", "--others", "--exclude-standard", cwd=root)
    return sorted({p for p in result.stdout.split("\0") if p})


#: Ignored files that are tools' caches and environments, never a program's data.
_TOOL_FILES = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        "node_modules",
        ".coverage",
        "htmlcov",
        "build",
        "dist",
        ".idea",
        ".vscode",
        ".DS_Store",
    }
)


def ignored_local_files(root: Path) -> list[str]:
    """Files and folders git ignores in ``root`` that may hold a program's local state
    (``instance/``, ``app.db``, ``.env``), without caches, environments and build output."""
    result = git(
        "ls-files",
        "-z",
        "--others",
        "--ignored",
        "--exclude-standard",
        "--directory",
        cwd=root,
        check=False,
    )
    found = []
    for path in result.stdout.split("\0"):
        parts = [part for part in path.split("/") if part]
        if not parts or any(part in _TOOL_FILES or part.endswith(".egg-info") for part in parts):
            continue
        if path.endswith((".pyc", ".pyo")):
            continue
        found.append(path)
    return sorted(found)


def changed_files(root: Path) -> list[str]:
    """Tracked paths whose work-tree or index content differs from HEAD (deletions included)."""
    result = git("diff", "HEAD", "--name-only", "--no-renames", "-z", cwd=root)
    return sorted({p for p in result.stdout.split("\0") if p})


def read_project(root: Path) -> Project:
    """The Python sources (and test configuration) of the work tree at ``root``."""
    files: dict[str, str] = {}
    for relative in project_code_paths(listed_files(root)):
        if not (relative.endswith(".py") or is_project_config(relative)):
            continue
        path = root / relative
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            files[relative] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return Project(files)


def is_project_config(path: str) -> bool:
    """Whether ``path`` is a file a recipe reads besides the code: the project's configuration
    (``PROJECT_CONFIG_FILES``) or a requirements file."""
    return path_name(path) in PROJECT_CONFIG_FILES or is_requirements_file(path)
