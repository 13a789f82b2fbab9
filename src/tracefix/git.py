"""The git edge: everything tracefix asks of the user's repository goes through here."""

from __future__ import annotations

from pathlib import Path

from tracefix import _process
from tracefix.diagnose.project import Project
from tracefix.errors import NotAGitRepository

#: Files besides Python sources that the engine reads (test configuration).
PROJECT_CONFIG_FILES = frozenset({"pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini"})
MAX_FILE_BYTES = 1 << 20


def git(*args: str, cwd: str | Path, check: bool = True) -> _process.Result:
    return _process.run(["git", *args], cwd=cwd, env=_process.no_git_env(), check=check)


def toplevel(path: str | Path) -> Path:
    """The root of the work tree containing ``path``; ``NotAGitRepository`` if there is none."""
    result = git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if not result.ok:
        raise NotAGitRepository(f"{Path(path).resolve()} is not inside a git repository")
    return Path(result.stdout.strip())


def listed_files(root: Path) -> list[str]:
    """Tracked files plus untracked ones git does not ignore, as POSIX paths from ``root``."""
    result = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root)
    return sorted({p for p in result.stdout.split("\0") if p})


def read_project(root: Path) -> Project:
    """The Python sources (and test configuration) of the work tree at ``root``."""
    files: dict[str, str] = {}
    for relative in listed_files(root):
        if not (relative.endswith(".py") or Path(relative).name in PROJECT_CONFIG_FILES):
            continue
        path = root / relative
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            files[relative] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return Project(files)
