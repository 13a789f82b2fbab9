"""Which files a scan reads: the project's root, its files as git sees them, and the excludes.

The detectors need the whole project (a script's imports, a test's ``conftest.py``, the app's
factory), so a scan reads every Python file of the project, and reports only on the ``PATHS``
it was given (all of them by default). The root is the nearest directory from the working
directory up that has a ``pyproject.toml``, without leaving the git work tree; else the work
tree's top; else the working directory.

In a git work tree the files are those git lists (tracked, plus untracked ones it does not
ignore), so every ``.gitignore``, ``.git/info/exclude`` and the global excludes apply as git
applies them. Outside one, the tree is walked and its ``.gitignore`` files are read with the
same rules (``GitIgnore``). Either way, folders that are never a project's own code (``.venv``,
``node_modules``, ``build``...) and the configured ``exclude`` patterns are left out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from pathlib import PurePosixPath

from tracefix.diagnose.project import NOT_PROJECT_DIRS
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_parts
from tracefix.git import git
from tracefix.git import is_project_config


@dataclass(frozen=True)
class ProjectFiles:
    root: Path
    #: Every file read into the ``Project``, as POSIX paths relative to ``root``.
    listed: tuple[str, ...]
    #: Files that could not be read as UTF-8 text, with the reason.
    unreadable: tuple[tuple[str, str], ...] = ()


def find_root(start: Path) -> Path:
    """The project root for a scan started in ``start`` (see the module's docstring)."""
    start = start.resolve()
    top = None
    if _may_be_in_git_work_tree(start):
        result = git("rev-parse", "--show-toplevel", cwd=start, check=False)
        top = Path(result.stdout.strip()).resolve() if result.ok else None
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
        if directory == top:
            break
    return top or start


def list_files(root: Path, exclude: Sequence[str] = ()) -> list[str]:
    """The project's Python and configuration files, honouring git's ignores and ``exclude``."""
    listing = ("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    result = git(*listing, cwd=root, check=False) if _may_be_in_git_work_tree(root) else None
    if result is not None and result.ok:
        candidates: Iterable[str] = (p for p in result.stdout.split("\0") if p)
    else:
        candidates = _walk(root)
    excluded = GitIgnore(exclude)
    top = os.fspath(root)
    found = []
    for path in sorted(set(candidates)):
        parts = path_parts(path)
        if NOT_PROJECT_DIRS.intersection(parts[:-1]) or excluded.ignores(path):
            continue
        # ``os.path.isfile`` is ``Path.is_file`` without building a ``Path`` per file.
        if (path.endswith(".py") or is_project_config(path)) and os.path.isfile(
            os.path.join(top, path)
        ):
            found.append(path)
    return found


def _may_be_in_git_work_tree(directory: Path) -> bool:
    """Whether git may see a work tree at ``directory``: a ``.git`` there or above it, or
    git told where one is. Asking git itself starts a process, twice a scan."""
    if os.environ.get("GIT_DIR") or os.environ.get("GIT_WORK_TREE"):
        return True
    return any(
        os.path.exists(os.path.join(folder, ".git")) for folder in (directory, *directory.parents)
    )


def read_project(root: Path, paths: Sequence[str]) -> tuple[Project, ProjectFiles]:
    """A ``Project`` of ``paths`` as text with universal newlines (as ``--fix`` compares it)."""
    files: dict[str, str] = {}
    unreadable: list[tuple[str, str]] = []
    top = os.fspath(root)
    for path in paths:
        try:
            with open(os.path.join(top, path), "rb") as file:
                data = file.read()
        except OSError as exc:
            unreadable.append((path, f"cannot read it: {exc.strerror}"))
            continue
        try:
            files[path] = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            unreadable.append((path, "not UTF-8 text"))
    return Project(files), ProjectFiles(root, tuple(files), tuple(unreadable))


def select_paths(root: Path, cwd: Path, given: Sequence[Path], listed: Sequence[str]) -> list[str]:
    """The Python files among ``listed`` that ``given`` (files or folders) name; all of them
    when none is given. ``ValueError`` for a path that does not exist or is outside ``root``."""
    python = [path for path in listed if path.endswith(".py")]
    if not given:
        return python
    chosen: set[str] = set()
    for path in given:
        absolute = (cwd / path).resolve()
        if not absolute.exists():
            raise ValueError(f"{path}: no such file or directory")
        if not absolute.is_relative_to(root):
            raise ValueError(f"{path} is outside the project at {root}")
        relative = absolute.relative_to(root).as_posix()
        if absolute.is_dir():
            prefix = "" if relative == "." else relative + "/"
            chosen.update(p for p in python if p.startswith(prefix))
        elif relative in python:
            chosen.add(relative)
    return sorted(chosen)


class GitIgnore:
    """``.gitignore`` patterns, matched as git matches them (negation, anchoring, ``**``,
    folder-only patterns), for trees outside git and for the ``exclude`` setting.

    Each pattern applies below ``base`` (the folder of the ``.gitignore`` that holds it); the
    last matching pattern decides, and a path is ignored when it or a folder above it is.
    """

    def __init__(self, patterns: Iterable[str] = (), base: str = "") -> None:
        self.rules: list[tuple[str, re.Pattern[str], bool, bool]] = []
        self.add(patterns, base)

    def add(self, patterns: Iterable[str], base: str = "") -> None:
        for raw in patterns:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            line = re.sub(r"(?<!\\)\s+$", "", line)
            negated = line.startswith("!")
            line = line[1:] if negated else line
            line = line.removeprefix("\\")
            folders_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            regex = _pattern_regex(line.lstrip("/"), anchored)
            self.rules.append((base, regex, negated, folders_only))

    def ignores(self, path: str) -> bool:
        if not self.rules:
            return False
        parts = PurePosixPath(path).parts
        for end in range(1, len(parts) + 1):
            if self._matches("/".join(parts[:end]), is_folder=end < len(parts)):
                return True
        return False

    def _matches(self, path: str, *, is_folder: bool) -> bool:
        ignored = False
        for base, regex, negated, folders_only in self.rules:
            if base and not path.startswith(base + "/"):
                continue
            if folders_only and not is_folder:
                continue
            if regex.fullmatch(path[len(base) + 1 :] if base else path):
                ignored = not negated
        return ignored


def _pattern_regex(pattern: str, anchored: bool) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("/.*")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            close = pattern.find("]", index + 1)
            if close == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : close].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                index = close
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    body = "".join(out)
    return re.compile(body if anchored else f"(?:.*/)?{body}")


def _walk(root: Path) -> Iterable[str]:
    """Every file below ``root`` that its ``.gitignore`` files do not ignore."""
    ignore = GitIgnore()
    top = os.fspath(root)
    for directory, folders, files in os.walk(top):
        # ``os.walk`` joins each folder's name to ``top``: what follows it is the path below.
        base = directory[len(top) :].lstrip(os.sep).replace(os.sep, "/")
        if ".gitignore" in files:
            try:
                with open(os.path.join(directory, ".gitignore"), encoding="utf-8") as file:
                    ignore.add(file.read().splitlines(), base)
            except (OSError, UnicodeDecodeError):
                pass
        kept = []
        for folder in sorted(folders):
            path = f"{base}/{folder}" if base else folder
            if folder not in NOT_PROJECT_DIRS and not ignore._matches(path, is_folder=True):
                kept.append(folder)
        folders[:] = kept
        for name in files:
            path = f"{base}/{name}" if base else name
            if not ignore._matches(path, is_folder=False):
                yield path
