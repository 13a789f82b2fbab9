"""The project's own Python environment, for jobs that do not start from the user's shell.

``tracefix run`` runs the command with the interpreter the user ran it with. The server has no
such interpreter: it verifies a fix in a checkout of the project, and must run the project's
command and tests with the project's dependencies, never with the server's own packages.

The project's settings may name an interpreter (a virtualenv on the same machine); it is used as
it is. Otherwise a virtualenv is built from what the project installs for its tests: the
requirements files (``requirements.txt``, ``requirements-dev.txt``, ``requirements/test.txt``
...), the dependencies its ``pyproject.toml``, ``setup.cfg`` or ``setup.py`` declare statically,
with their dev and test extras, and pytest when its tests need pytest and nothing installs it.
Environments are cached by a hash of those inputs and of the base interpreter, so jobs on
releases with the same dependencies share one.

The project itself is never installed in the environment: a cached environment outlives the
checkout it was built from, and an installed copy would be the code of whichever release came
first. ``ProjectEnvironment.variables`` puts the tree on ``PYTHONPATH`` instead (``src/`` first
when there is one), the way an editable install would, and the verifier moves those entries to
its worktrees as it does for a user's editable install. Lines of a requirements file that
install the project (``-e .``, ``.[dev]``) are left out for the same reason, their extras kept.

A build goes into a folder of its own and is published by atomically replacing a symlink
``<cache>/<key>``, after its marker file is written: a job sees a finished environment or none.
A virtualenv cannot be moved once built (its scripts name their interpreter by path), hence a
link rather than a renamed folder. A lock per key keeps two jobs from building the same one.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from tracefix import _process
from tracefix.errors import CommandNotFound
from tracefix.errors import ProjectEnvironmentError
from tracefix.verify.checkout import exclusive_lock
from tracefix.verify.tests import find_test_command
from tracefix.verify.tests import has_test_files

#: Seconds one run of ``python -m venv`` or of pip may take.
BUILD_TIMEOUT = 900.0
#: Written into a finished environment, last: what it was built from, for whoever looks.
MARKER = "tracefix-environment.json"
#: Changes when the way environments are built changes, so old ones are not reused.
BUILD_RECIPE = "1"
#: What a requirements file's name says besides "requirements" when a project installs it to
#: run its tests. Production-only files (``requirements-prod.txt``) are left out.
TEST_REQUIREMENT_ROLES = frozenset(
    {
        "",
        "base",
        "common",
        "core",
        "main",
        "dev",
        "devel",
        "develop",
        "development",
        "local",
        "test",
        "tests",
        "testing",
        "ci",
    }
)
#: Extras a project declares for working on it.
TEST_EXTRAS = frozenset({"dev", "devel", "develop", "development", "test", "tests", "testing"})
#: Variables that would point the project's interpreter at another installation's modules.
FOREIGN_PYTHON_VARIABLES = (
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "VIRTUAL_ENV",
    "__PYVENV_LAUNCHER__",
)
#: pip settings that make no sense for a virtualenv; the index settings (``PIP_INDEX_URL``,
#: ``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_CERT`` ...) and pip's config files pass.
FOREIGN_PIP_VARIABLES = (
    "PIP_USER",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_ROOT",
    "PIP_REQUIRE_VIRTUALENV",
)
ERROR_LINES = 12
_OPTION = re.compile(r"^(-[rce]|--requirement|--constraint|--editable)(?:\s*=\s*|\s+|(?=\S))(.+)$")
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_PATH_EXTRAS = re.compile(r"^(?P<path>.*?)(?:\[(?P<extras>[^\]]*)\])?$")


@dataclass(frozen=True)
class ProjectEnvironment:
    """The interpreter that runs a project's commands and tests, and the variables to run it with.

    ``venv`` is the virtualenv ``python`` belongs to, if any; ``key`` the hash of what a cached
    environment was built from (``None`` for an interpreter named in the project's settings);
    ``built`` whether this call built it rather than finding it cached.
    """

    python: Path
    venv: Path | None
    key: str | None = None
    built: bool = False

    def variables(self, tree: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: ours) changed to run the project in ``tree`` with this interpreter.

        Its ``bin`` folder comes first on ``PATH``, so ``python``, ``pytest`` and ``flask`` in a
        command are the environment's. ``PYTHONPATH`` is the tree (``src/`` first when there
        is one) and nothing of ours: the verifier turns it into its worktree's paths.
        """
        env = dict(os.environ if base is None else base)
        for name in FOREIGN_PYTHON_VARIABLES:
            env.pop(name, None)
        env["PATH"] = os.pathsep.join([str(self.python.parent), env.get("PATH", os.defpath)])
        if self.venv is not None:
            env["VIRTUAL_ENV"] = str(self.venv)
        tree = Path(tree)
        paths = [str(tree / "src")] if (tree / "src").is_dir() else []
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(tree)])
        return env


@dataclass(frozen=True)
class InstallPlan:
    """What a project installs to run its tests, read from its files without running any.

    ``files`` maps every requirements file read (those found and those they include) to its
    lines, rewritten for a run from anywhere: includes and local paths made absolute, lines that
    install the project itself dropped. ``requirements`` come from the project's metadata.
    """

    tree: Path
    requirement_files: tuple[str, ...]
    files: Mapping[str, tuple[str, ...]]
    requirements: tuple[str, ...]
    add_pytest: bool
    #: The contents of the requirements files, by path, for the cache key.
    digests: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.requirement_files or self.requirements or self.add_pytest)

    def pip_arguments(self, scratch: Path) -> list[str]:
        """``pip install`` arguments, the requirements files written into ``scratch``."""
        written = {name: scratch / f"{i}-{Path(name).name}" for i, name in enumerate(self.files)}
        for name, lines in self.files.items():
            text = "\n".join(_link_includes(line, written) for line in lines)
            written[name].write_text(text + "\n", encoding="utf-8")
        arguments: list[str] = []
        for name in self.requirement_files:
            arguments += ["-r", str(written[name])]
        arguments += self.requirements
        if self.add_pytest:
            arguments.append("pytest")
        return arguments


class EnvironmentCache:
    """Project environments under ``cache_dir``, built with ``base_python`` when needed.

    ``base_python`` defaults to the interpreter under tracefix's own (not its virtualenv);
    ``timeout`` limits each run of venv and pip, in seconds. Safe to share between threads and
    processes.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        base_python: str | None = None,
        timeout: float = BUILD_TIMEOUT,
    ) -> None:
        self.cache_dir = Path(cache_dir).resolve()
        self.base_python = base_python or getattr(sys, "_base_executable", "") or sys.executable
        self.timeout = timeout
        self._base_identity: str | None = None

    def environment(self, tree: str | Path, *, python: str | None = None) -> ProjectEnvironment:
        """The environment to run the project checked out at ``tree`` in.

        ``python`` is an interpreter named in the project's settings: a path (relative ones
        from ``tree``) or a command on ``PATH``; it is checked to run, and used as it is.
        Otherwise the cached environment for the project's dependencies, built first if there
        is none. Raises ``ProjectEnvironmentError`` with pip's last lines when a build fails,
        and leaves nothing of it behind.
        """
        tree = Path(tree).resolve()
        if python is not None:
            return self._configured(tree, python)
        plan = install_plan(tree)
        key = self._key(plan)
        link = self.cache_dir / key
        ready = _finished(link)
        if ready is not None:
            return ProjectEnvironment(ready / "bin" / "python", ready, key)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(
            self.cache_dir / f"{key}.lock",
            timeout=3 * self.timeout,
            what=f"the environment {key}",
            error=ProjectEnvironmentError,
        ):
            ready = _finished(link)
            if ready is not None:
                return ProjectEnvironment(ready / "bin" / "python", ready, key)
            venv = self._build(plan, key)
        return ProjectEnvironment(venv / "bin" / "python", venv, key, built=True)

    def _configured(self, tree: Path, python: str) -> ProjectEnvironment:
        if os.sep in python:
            path = Path(python).expanduser()
            path = path if path.is_absolute() else tree / path
        else:
            found = shutil.which(python)
            if found is None:
                raise ProjectEnvironmentError(
                    f"the project's interpreter {python!r} is not on PATH"
                )
            path = Path(found)
        path = Path(os.path.abspath(path))  # a virtualenv's python is a link: do not resolve it
        if not path.exists():
            raise ProjectEnvironmentError(f"the project's interpreter {path} does not exist")
        result = self._run([str(path), "-c", "import sys"], what=f"the interpreter {path}")
        if not result.ok:
            raise ProjectEnvironmentError(
                f"the project's interpreter {path} does not run: {_last_lines(result)}"
            )
        venv = path.parent.parent
        return ProjectEnvironment(path, venv if (venv / "pyvenv.cfg").is_file() else None)

    def _key(self, plan: InstallPlan) -> str:
        if self._base_identity is None:
            script = (
                "import os, sys; print(sys.version); print(sys.implementation.cache_tag); "
                "print(os.path.realpath(getattr(sys, '_base_executable', '') or sys.executable))"
            )
            result = self._run([self.base_python, "-c", script], what=self.base_python)
            if not result.ok:
                raise ProjectEnvironmentError(
                    f"the base interpreter {self.base_python} does not run: {_last_lines(result)}"
                )
            self._base_identity = result.stdout
        inputs = {
            "recipe": BUILD_RECIPE,
            "python": self._base_identity,
            "requirement_files": plan.requirement_files,
            "digests": dict(sorted(plan.digests.items())),
            "requirements": plan.requirements,
            "pytest": plan.add_pytest,
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]

    def _build(self, plan: InstallPlan, key: str) -> Path:
        """Build the environment in a new folder and publish it; remove the folder on failure."""
        builds = self.cache_dir / "builds"
        builds.mkdir(parents=True, exist_ok=True)
        for leftover in builds.glob(f"{key}-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # killed builds, or one that broke
        venv = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=builds))
        started = time.time()
        try:
            result = self._run(
                [self.base_python, "-m", "venv", str(venv)], what="python -m venv", cwd=builds
            )
            if not result.ok:
                raise ProjectEnvironmentError(
                    f"cannot create a virtualenv with {self.base_python}: {_last_lines(result)}"
                )
            if not plan.empty:
                self._install(plan, venv)
            marker = {
                "key": key,
                "built_from": plan.requirement_files,
                "requirements": len(plan.requirements) + plan.add_pytest,
                "seconds": round(time.time() - started, 1),
            }
            (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            staged_link = self.cache_dir / f".{key}.{os.getpid()}.link"
            staged_link.unlink(missing_ok=True)
            staged_link.symlink_to(Path("builds") / venv.name)
            os.replace(staged_link, self.cache_dir / key)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        return venv

    def _install(self, plan: InstallPlan, venv: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="tracefix-requirements-") as scratch:
            arguments = plan.pip_arguments(Path(scratch))
            result = self._run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input", *arguments],
                what="pip install",
                cwd=plan.tree,
            )
        if not result.ok:
            sources = ", ".join(plan.requirement_files) or "the project's metadata"
            raise ProjectEnvironmentError(
                f"pip could not install the project's requirements ({sources}) into a new "
                f"environment:\n{_last_lines(result)}"
            )

    def _run(self, argv: list[str], *, what: str, cwd: Path | None = None) -> _process.Result:
        env = _process.no_git_env()
        for name in (*FOREIGN_PYTHON_VARIABLES, *FOREIGN_PIP_VARIABLES):
            env.pop(name, None)
        env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_PROGRESS_BAR="off")
        try:
            return _process.run(argv, cwd=cwd, env=env, timeout=self.timeout)
        except CommandNotFound as exc:
            raise ProjectEnvironmentError(f"cannot run {what}: {exc.message}") from exc


def install_plan(tree: Path) -> InstallPlan:
    """Read what the project at ``tree`` installs for its tests (see the module's docstring)."""
    tree = Path(tree).resolve()
    metadata = _Metadata.read(tree)
    reader = _RequirementsReader(tree)
    declared = [name for name in metadata.requirement_files if (tree / name).is_file()]
    found = [*_requirement_files(tree), *declared]
    for name in dict.fromkeys(found):
        reader.read(tree / name)
    requirements = metadata.requirements_with(reader.project_extras)
    names = {_normalised(n) for n in [*reader.names, *(_requirement_name(r) for r in requirements)]}
    return InstallPlan(
        tree=tree,
        requirement_files=tuple(dict.fromkeys(found)),
        files=reader.files,
        requirements=tuple(requirements),
        add_pytest="pytest" not in names and _tests_need_pytest(tree),
        digests=reader.digests,
    )


def _requirement_files(tree: Path) -> list[str]:
    """``requirements.txt``, ``requirements-dev.txt``, ``test-requirements.txt``,
    ``requirements/base.txt`` ...: the files whose role a project installs for its tests."""
    found = []
    for path in sorted(tree.glob("*requirements*.txt")):
        role = path.stem.lower().replace("requirements", "").strip("-_.")
        if role in TEST_REQUIREMENT_ROLES and path.is_file():
            found.append(path.name)
    for path in sorted(tree.glob("requirements/*.txt")):
        role = path.stem.lower().replace("requirements", "").strip("-_.")
        if role in TEST_REQUIREMENT_ROLES and path.is_file():
            found.append(f"requirements/{path.name}")
    return found


class _RequirementsReader:
    """Reads requirements files and those they include, rewriting what depends on the tree."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.files: dict[str, tuple[str, ...]] = {}
        self.digests: dict[str, str] = {}
        self.names: list[str] = []
        #: Extras asked for where a file installs the project itself (``-e .[dev]``).
        self.project_extras: set[str] = set()

    def read(self, path: Path) -> str:
        """Read ``path`` (and what it includes) once; return its name relative to the tree."""
        name = self._relative(path)
        if name in self.files:
            return name
        self.files[name] = ()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProjectEnvironmentError(f"cannot read {name}: {exc.strerror}") from exc
        self.digests[name] = hashlib.sha256(data).hexdigest()
        lines = []
        for line in _logical_lines(data.decode("utf-8", errors="replace")):
            rewritten = self._rewrite(line, path.parent)
            if rewritten is not None:
                lines.append(rewritten)
        self.files[name] = tuple(lines)
        return name

    def _rewrite(self, line: str, folder: Path) -> str | None:
        option = _OPTION.match(line)
        if option is not None:
            flag, value = option.group(1), option.group(2).strip()
            if flag in ("-r", "--requirement"):
                return f"-r {_INCLUDE}{self.read(folder / value)}"
            if flag in ("-c", "--constraint"):
                return f"-c {_INCLUDE}{self.read(folder / value)}"
            return self._requirement(value, editable=True)
        if line.startswith("-"):
            return line  # --index-url, --find-links, --pre ...: pip's business
        return self._requirement(line, editable=False)

    def _requirement(self, value: str, *, editable: bool) -> str | None:
        """A requirement line; a local path made absolute, the project itself left out.

        pip reads a relative path from the folder it runs in, which for a project is its root.
        A local package other than the project is installed as a copy: the tree it would be
        edited in is gone once the build is done.
        """
        parts = _PATH_EXTRAS.match(value)
        assert parts is not None
        path = parts.group("path")
        if _is_local_path(path):
            target = (self.tree / path.removeprefix("file:")).resolve()
            if target == self.tree:
                extras = parts.group("extras") or ""
                self.project_extras.update(e.strip() for e in extras.split(",") if e.strip())
                return None
            extras = f"[{parts.group('extras')}]" if parts.group("extras") else ""
            return f"{target}{extras}"
        name = _requirement_name(value)
        if name:
            self.names.append(name)
        return f"-e {value}" if editable else value

    def _relative(self, path: Path) -> str:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.tree) or not resolved.is_file():
            shown = os.path.relpath(resolved, self.tree)
            raise ProjectEnvironmentError(
                f"the requirements file {shown} is not a file of the project"
            )
        return resolved.relative_to(self.tree).as_posix()


#: Marks an included file's name in a rewritten line, replaced by its written copy's path.
_INCLUDE = "\0"


def _link_includes(line: str, written: Mapping[str, Path]) -> str:
    flag, _, name = line.partition(f" {_INCLUDE}")
    return f"{flag} {written[name]}" if name else line


@dataclass
class _Metadata:
    """The dependencies a project declares without running code: pyproject, setup.cfg, setup.py."""

    name: str = ""
    dependencies: list[str] = field(default_factory=list)
    extras: dict[str, list[str]] = field(default_factory=dict)
    #: Requirements-format files the build backend reads dependencies from (setuptools' dynamic).
    requirement_files: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, tree: Path) -> _Metadata:
        metadata = cls()
        metadata._read_setup_py(tree / "setup.py")
        metadata._read_setup_cfg(tree / "setup.cfg")
        metadata._read_pyproject(tree / "pyproject.toml")
        return metadata

    def requirements_with(self, extras: set[str]) -> list[str]:
        """The dependencies plus those of the test extras and of ``extras``, self-references
        (``myapp[test]`` inside the ``dev`` extra) followed."""
        wanted = [e for e in self.extras if _normalised(e) in TEST_EXTRAS] + sorted(extras)
        requirements = list(self.dependencies)
        seen: set[str] = set()
        while wanted:
            extra = _normalised(wanted.pop(0))
            if extra in seen:
                continue
            seen.add(extra)
            for requirement in self._extra(extra):
                parts = _PATH_EXTRAS.match(requirement.split(";")[0].strip())
                if self.name and parts and _normalised(parts.group("path")) == self.name:
                    wanted += (parts.group("extras") or "").split(",")
                else:
                    requirements.append(requirement)
        return list(dict.fromkeys(r for r in requirements if r.strip()))

    def _extra(self, name: str) -> list[str]:
        return next((v for k, v in self.extras.items() if _normalised(k) == name), [])

    def _read_pyproject(self, path: Path) -> None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return
        project = data.get("project", {})
        if not isinstance(project, dict):
            return
        if isinstance(project.get("name"), str):
            self.name = _normalised(project["name"])
        if _strings(project.get("dependencies")):
            self.dependencies = _strings(project["dependencies"])
        optional = project.get("optional-dependencies", {})
        if isinstance(optional, dict):
            self.extras.update({k: _strings(v) for k, v in optional.items()})
        dynamic = data.get("tool", {}).get("setuptools", {}).get("dynamic", {})
        if isinstance(dynamic, dict):
            self.requirement_files += _dynamic_files(dynamic.get("dependencies"))
            optional_files = dynamic.get("optional-dependencies", {})
            if isinstance(optional_files, dict):
                for extra, spec in optional_files.items():
                    if _normalised(extra) in TEST_EXTRAS:
                        self.requirement_files += _dynamic_files(spec)

    def _read_setup_cfg(self, path: Path) -> None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, UnicodeDecodeError, configparser.Error):
            return
        if parser.has_option("metadata", "name"):
            self.name = _normalised(parser.get("metadata", "name"))
        if parser.has_option("options", "install_requires"):
            self.dependencies = _cfg_list(parser.get("options", "install_requires"))
        if parser.has_section("options.extras_require"):
            for extra, value in parser.items("options.extras_require"):
                self.extras[extra] = _cfg_list(value)

    def _read_setup_py(self, path: Path) -> None:
        """``setup(name=..., install_requires=[...], extras_require={...})`` when literal."""
        try:
            module = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            return
        for node in ast.walk(module):
            if not isinstance(node, ast.Call) or _called_name(node.func) != "setup":
                continue
            for keyword in node.keywords:
                try:
                    value = ast.literal_eval(keyword.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
                if keyword.arg == "name" and isinstance(value, str):
                    self.name = _normalised(value)
                elif keyword.arg == "install_requires":
                    self.dependencies = _strings(value)
                elif keyword.arg == "extras_require" and isinstance(value, dict):
                    self.extras.update({str(k): _strings(v) for k, v in value.items()})


def _tests_need_pytest(tree: Path) -> bool:
    """Whether the verifier would run the project's tests with pytest."""
    try:
        found = find_test_command(tree, python="python")
    except _process.ProcessError:  # not a git work tree: look at the files themselves
        return has_test_files(list(_python_files(tree)))
    return found is not None and found[0][1:3] == ("-m", "pytest")


def _python_files(tree: Path) -> Iterator[str]:
    for folder, subfolders, files in os.walk(tree):
        subfolders[:] = [
            d for d in subfolders if not d.startswith(".") and d not in ("venv", "node_modules")
        ]
        for name in files:
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), tree)


def _logical_lines(text: str) -> Iterator[str]:
    """Lines as pip reads them: continuations joined, comments and blank lines dropped."""
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = re.sub(r"(^|\s+)#.*$", "", pending + raw).strip()
        pending = ""
        if line:
            yield line
    if pending.strip():
        yield pending.strip()


def _is_local_path(value: str) -> bool:
    if value.startswith("file:"):
        return True
    if "://" in value or " @ " in value or "@" in value.split("/")[0]:
        return False
    return value.startswith((".", "/", "~")) or "/" in value or value.endswith((".whl", ".zip"))


def _requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return match.group(1) if match and "://" not in requirement.split("@")[0] else ""


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return _cfg_list(value)
    if isinstance(value, (list, tuple)):
        return [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return []


def _cfg_list(value: str) -> list[str]:
    """setup.cfg's list: one item a line (a ``;`` there starts an environment marker)."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def _dynamic_files(spec: object) -> list[str]:
    files = spec.get("file") if isinstance(spec, dict) else None
    return [files] if isinstance(files, str) else _strings(files)


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _finished(link: Path) -> Path | None:
    """The environment ``link`` points at, if it was finished and still has its interpreter."""
    if not link.is_symlink():
        return None
    venv = link.resolve()
    if (venv / MARKER).is_file() and (venv / "bin" / "python").exists():
        return venv
    return None


def _last_lines(result: _process.Result) -> str:
    """The end of what a failed run said: pip puts the reason in its last lines on stderr."""
    text = result.stderr if result.stderr.strip() else result.stdout
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-ERROR_LINES:]) or f"exit code {result.returncode}"


def project_python(
    tree: str | Path,
    *,
    python: str | None = None,
    cache_dir: str | Path,
    timeout: float = BUILD_TIMEOUT,
) -> str:
    """The interpreter for the project at ``tree``: ``python`` if its settings name one, else
    that of the environment cached (or built) for it in ``cache_dir``. For callers that need
    only the interpreter; ``EnvironmentCache.environment`` also gives the variables."""
    cache = EnvironmentCache(cache_dir, timeout=timeout)
    return str(cache.environment(tree, python=python).python)
