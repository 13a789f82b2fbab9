"""The user's project as the engine sees it: source text by path, and nothing else.

The engine never opens a file. ``tracefix.git.read_project`` (an IO edge) builds a ``Project``
from a work tree; tests build one from a dict.
"""

from __future__ import annotations

import ast
import functools
import re
import weakref
from ast import FunctionDef
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from typing import TypeVar

from tracefix.errors import UserSyntaxError

if TYPE_CHECKING:
    import libcst as cst

#: Folders whose packages import without their own name, in the order Python tools try them.
IMPORT_ROOTS = ("src/", "")
#: Folders that hold no code of the project's own: virtualenvs, installed packages, caches and
#: build output (ruff's defaults, with ``dist-packages``).
NOT_PROJECT_DIRS = frozenset(
    {
        ".bzr",
        ".direnv",
        ".eggs",
        ".git",
        ".hg",
        ".mypy_cache",
        ".nox",
        ".pants.d",
        ".pytest_cache",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        "__pycache__",
        "__pypackages__",
        "_build",
        "buck-out",
        "build",
        "dist",
        "dist-packages",
        "node_modules",
        "site-packages",
        "venv",
    }
)


@dataclass(frozen=True)
class Project:
    """Python sources of a repository, keyed by POSIX path relative to the repository root."""

    files: Mapping[str, str]
    _cst_cache: dict[str, cst.Module] = field(default_factory=dict, compare=False, repr=False)
    _ast_cache: dict[str, ast.Module | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: ``module_name`` and ``module_path`` remembered: a scan asks them of the same few
    #: paths and names tens of thousands of times, and the files never change.
    _names: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _paths: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _outside: dict[frozenset[str], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _words: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def source(self, path: str) -> str | None:
        return self.files.get(_normalise(path))

    @property
    def itself(self) -> Project:
        """This project, also when reached through the ``weakref.proxy`` an analysis keeps of
        it (see ``per_project``), which cannot itself be weakly referenced."""
        return self

    def may_name(self, path: str, name: str) -> bool:
        """Whether the code of ``path`` can spell ``name``: its text contains it, or is not
        all ASCII (Python reads identifiers NFKC-normalised: ``ｒun`` is ``run``). Exact, and
        far cheaper than a walk of the tree: a detector that needs ``name`` skips the file."""
        source = self.source(path) or ""
        return name in source or not source.isascii()

    def python_files_spelling(self, name: str) -> tuple[str, ...]:
        """The Python files whose code can spell ``name`` as a whole word (``cli`` is not in
        ``click``), or that are not all ASCII (see ``may_name``). Remembered, for a detector
        that asks it for the same few names again and again."""
        found = self._words.get(name)
        if found is None:
            word = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.ASCII)
            found = self._words[name] = tuple(
                path
                for path in self.python_files()
                if not (source := self.files[path]).isascii()
                or (name in source and word.search(source) is not None)
            )
        return found

    def python_files(self) -> Iterator[str]:
        return (path for path in sorted(self.files) if path.endswith(".py"))

    def python_files_outside(self, folders: frozenset[str]) -> tuple[str, ...]:
        """``python_files()`` less those with a part of their path in ``folders`` (virtualenvs,
        ``node_modules``): remembered, as a scan asks it for every file it checks."""
        found = self._outside.get(folders)
        if found is None:
            found = self._outside[folders] = tuple(
                path for path in self.python_files() if not folders.intersection(path_parts(path))
            )
        return found

    def cst(self, path: str) -> cst.Module:
        """The LibCST tree of ``path``. Raises ``UserSyntaxError`` if it does not parse."""
        import libcst as cst  # a fifth of a second: only the fix stage pays it

        path = _normalise(path)
        if path not in self._cst_cache:
            try:
                self._cst_cache[path] = cst.parse_module(self.files[path])
            except cst.ParserSyntaxError as exc:
                raise UserSyntaxError(
                    f"{path}:{exc.raw_line}: syntax error: {exc.message}"
                ) from None
        return self._cst_cache[path]

    def ast(self, path: str) -> ast.Module | None:
        """The ``ast`` tree of ``path``, or ``None`` when it does not parse (reading is lenient)."""
        path = _normalise(path)
        if path not in self._ast_cache:
            try:
                self._ast_cache[path] = ast.parse(self.files[path], filename=path)
            except (SyntaxError, ValueError):
                self._ast_cache[path] = None  # not parsed again for each question about it
        return self._ast_cache[path]

    def function(self, path: str, name: str) -> FunctionDef | None:
        """The last top-level ``def name`` of ``path`` (the one Python keeps), if it parses."""
        tree = self.ast(path)
        if tree is None:
            return None
        found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
        return found[-1] if found else None

    def module_name(self, path: str) -> str | None:
        """The dotted name ``path`` is imported as (``src/pkg/a.py`` -> ``pkg.a``): from the
        folder above its top-level package (the highest folder of its ``__init__.py`` chain)
        when it is in one, else from the first of ``IMPORT_ROOTS`` it is under."""
        try:
            return self._names[path]
        except KeyError:
            pass
        normal = _normalise(path)
        root = _package_roots(self).get(path_parent(normal))
        name = _module_name(normal, (root,) if root is not None else IMPORT_ROOTS)
        self._names[path] = name
        return name

    def module_path(self, module: str) -> str | None:
        """The file that defines the dotted ``module``, or ``None`` if it is not in the project."""
        try:
            return self._paths[module]
        except KeyError:
            pass
        found = self._module_path(module)
        self._paths[module] = found
        return found

    def _module_path(self, module: str) -> str | None:
        relative = module.replace(".", "/")
        for root in IMPORT_ROOTS:
            for candidate in (f"{root}{relative}.py", f"{root}{relative}/__init__.py"):
                if candidate in self.files:
                    return candidate
        below = _package_roots(self).below
        found = [
            (entry[0], order, entry[1])
            for order, candidate in enumerate((f"{relative}.py", f"{relative}/__init__.py"))
            if (entry := below.get(candidate)) is not None
        ]
        return min(found)[2] if found else None

    def absolute_module(self, path: str, module: str | None, level: int) -> str | None:
        """The module that ``from <level dots><module> import ...`` in ``path`` names.

        ``None`` when a relative import climbs above the project's packages.
        """
        if not level:
            return module
        package = self.module_name(path)
        if package is None:
            return None
        parts = package.split(".")
        if not _normalise(path).endswith("__init__.py"):
            parts = parts[:-1]
        if level > 1:
            if len(parts) < level - 1:
                return None
            parts = parts[: len(parts) - (level - 1)]
        resolved = [*parts, *([module] if module else [])]
        return ".".join(resolved) if resolved else None

    def with_changes(self, changes: Mapping[str, str]) -> Project:
        """A new project with ``changes`` (path -> new text) applied."""
        return Project({**self.files, **{_normalise(p): t for p, t in changes.items()}})


@functools.lru_cache(maxsize=8192)
def _module_name(path: str, roots: tuple[str, ...]) -> str | None:
    """Remembered, like ``_normalise``: the scan asks it of the same few paths again and again."""
    if not path.endswith(".py"):
        return None
    for root in roots:
        if root and not path.startswith(root):
            continue
        parts = list(path_parts(path[len(root) :]))
        if parts and parts[-1] != ".py":  # ``with_suffix("")``: ``.py`` alone has no suffix
            parts[-1] = parts[-1].removesuffix(".py")
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            return ".".join(parts)
    return None


def path_parts(path: str) -> tuple[str, ...]:
    """``PurePosixPath(path).parts``, by a split where that is the same, at a tenth of the
    cost."""
    return tuple(path.split("/")) if _splits_plainly(path) else PurePosixPath(path).parts


def _splits_plainly(path: str) -> bool:
    """Whether ``path`` is relative, with no empty or ``.`` part (a project's paths, as git
    gives them): then splitting it at ``/`` is what ``PurePosixPath`` makes of it."""
    return not (
        not path
        or path == "."
        or path.startswith(("/", "./"))
        or path.endswith(("/", "/."))
        or "//" in path
        or "/./" in path
    )


def path_name(path: str) -> str:
    """``PurePosixPath(path).name``, by a split where that is the same (a path that does not
    end in ``/`` or ``/.``: every file's), at a tenth of the cost: a scan asks it of every
    file, for several recipes."""
    if not path or path == "." or path.endswith(("/", "/.")):
        return PurePosixPath(path).name
    return path.rpartition("/")[2]


def path_parent(path: str) -> str:
    """``str(PurePosixPath(path).parent)``, by a split where that is the same."""
    if path == ".":
        return path
    if not _splits_plainly(path):
        return str(PurePosixPath(path).parent)
    return path.rpartition("/")[0] or "."


@functools.lru_cache(maxsize=8192)
def _normalise(path: str) -> str:
    """Remembered: every lookup goes through it, with a few thousand paths at most, and
    ``PurePosixPath`` is most of what a lookup costs (a path it would not change skips it)."""
    if "\\" not in path and _splits_plainly(path):
        return path
    return str(PurePosixPath(path.replace("\\", "/"))).removeprefix("./")


Result = TypeVar("Result")


def per_project(function: Callable[[Project], Result]) -> Callable[[Project], Result]:
    """``function`` computed once per ``Project``: a project never changes (``with_changes``
    makes a new one), and ``tracefix scan`` asks every file's ``detect`` the same
    project-wide questions. A result is dropped when its project is: a result that needs its
    project keeps a ``weakref.proxy`` of it, or the project would live as long as the process
    and every tree it parsed with it."""
    results: dict[int, tuple[weakref.ref[Project], Result]] = {}

    def cached(project: Project) -> Result:
        if isinstance(project, weakref.ProxyType):
            project = project.itself
        key = id(project)
        found = results.get(key)
        if found is not None and found[0]() is project:
            return found[1]
        result = function(project)
        results[key] = (weakref.ref(project, lambda _: results.pop(key, None)), result)
        return result

    cached.__doc__ = function.__doc__
    return cached


_IMPORTED_TOP_NAME = re.compile(r"^\s*(?:from|import)\s+(\w+)", re.M)


def _imported_top_names(project: Project) -> frozenset[str]:
    """The first name after each line's ``from`` or ``import`` in the project's Python files
    (``shop`` of ``from shop.models import db``): one pass over the text, where searching it
    once per package took a project of 56 packages a quarter of its scan."""
    return frozenset(
        name
        for path, text in project.files.items()
        if path.endswith(".py")
        for name in _IMPORTED_TOP_NAME.findall(text)
    )


class _PackageRoots(dict[str, str]):
    """Each package folder of a project, and the folder its top-level package imports from;
    ``roots``: those folders that are not ``IMPORT_ROOTS``, where ``module_path`` looks last,
    in order; ``below``: each Python file's path below one of them, with that root's place in
    ``roots`` and the file, or ``None`` when two roots have it (a project of many roots asks
    this for every name it resolves: looking in each root in turn was most of its scan)."""

    roots: tuple[str, ...] = ()
    below: dict[str, tuple[int, str] | None]


@per_project
def _package_roots(project: Project) -> _PackageRoots:
    """Packages imported by their own name from a folder of their repository that is not an
    import root: pgAdmin keeps its ``pgadmin`` package in ``web/``, where its entry script
    runs, so ``from pgadmin.model import db`` is ``web/pgadmin/model/__init__.py``. Only a
    package the project's code imports by that name counts; otherwise it may be a namespace
    package's part (``src/shop/web/`` with no ``src/shop/__init__.py`` is ``shop.web``)."""
    packages = {
        path_parent(_normalise(path)) for path in project.files if path_name(path) == "__init__.py"
    }
    tops: dict[str, list[str]] = {}
    for package in packages:
        top = package
        while (parent := path_parent(top)) != top and parent in packages:
            top = parent
        if path_parent(top) not in (".", *(root.rstrip("/") for root in IMPORT_ROOTS)):
            tops.setdefault(top, []).append(package)
    found = _PackageRoots()
    imported = _imported_top_names(project) if tops else frozenset()
    for top_folder, members in tops.items():
        if PurePosixPath(top_folder).name in imported:
            root = f"{PurePosixPath(top_folder).parent.as_posix()}/"
            found.update(dict.fromkeys(members, root))
    found.roots = tuple(sorted(set(found.values())))
    found.below = {}
    if not found.roots:
        return found
    # Each root ends with "/": the roots a file is below are among the prefixes of its path
    # that end with one (looking each file up in every root made a project of many roots slow).
    indexes = {root: index for index, root in enumerate(found.roots)}
    for path in project.files:
        if not path.endswith(".py"):
            continue
        slash = path.find("/")
        while slash != -1:
            index = indexes.get(path[: slash + 1])
            if index is not None:
                # Two roots with the same module (a monorepo's services/a/app and
                # services/b/app): which one an import means is unknown, so neither.
                below = path[slash + 1 :]
                found.below[below] = None if below in found.below else (index, path)
            slash = path.find("/", slash + 1)
    return found


def project_code_paths(paths: Iterable[str]) -> list[str]:
    """``paths`` less those in a folder that holds no project code (``NOT_PROJECT_DIRS``: a
    virtualenv's files are all below its ``site-packages``)."""
    return [path for path in paths if not NOT_PROJECT_DIRS.intersection(path_parts(path)[:-1])]
