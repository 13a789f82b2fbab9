"""The project's own tests, run before and after a fix so a fix that breaks one is rejected.

Outcomes are read per test from pytest's JUnit XML, not from its exit code: a suite that already
had a failing test must not hide a new one, and a fix must not be blamed for an old one. The run
goes through the capture hook so contexts left pushed by a test are reported too.
"""

from __future__ import annotations

import configparser
import io
import shlex
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from pathlib import PurePosixPath

from tracefix.capture.runner import run_captured
from tracefix.git import listed_files

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
#: When one test shows up twice (a call failure and a teardown error), the worst outcome wins.
SEVERITY = {PASSED: 0, SKIPPED: 1, FAILED: 2, ERROR: 3}
NO_TESTS_COLLECTED = 5
OUTPUT_TAIL_CHARS = 4000
PYTEST_OPTIONS = (
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:randomly",
    "-o",
    "junit_family=xunit1",
)


@dataclass(frozen=True)
class TestRun:
    """One run of the project's tests. ``outcomes`` is empty when only an exit code was known."""

    __test__ = False

    command: tuple[str, ...]
    returncode: int
    outcomes: Mapping[str, str]
    seconds: float
    output_tail: str
    #: Where a Flask context was left pushed, as the capture hook reported it.
    leaks: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.returncode in (0, NO_TESTS_COLLECTED)


def has_test_files(files: Sequence[str]) -> bool:
    """Whether ``files`` hold a ``conftest.py`` or a ``test_*.py``/``*_test.py`` file."""
    for path in files:
        name = PurePosixPath(path).name
        if name == "conftest.py" or (
            name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
        ):
            return True
    return False


def find_test_command(
    root: Path, *, python: str, cwd_in_repo: str = ".", test_cmd: Sequence[str] | None = None
) -> tuple[tuple[str, ...], Path] | None:
    """The tests to run in the worktree at ``root`` and the folder to run them in, or ``None``.

    ``test_cmd`` (``--test-cmd``) runs as given from the user's folder. Otherwise pytest runs when
    the project has pytest configuration or test files: from the nearest folder above the user's
    with pytest configuration, else from the repository root. A project with neither whose
    top-level ``tests.py`` uses ``unittest`` (microblog, Flasky) gets ``python -m unittest`` from
    the root, judged by its exit code: pytest would not collect that file, and need not be
    installed.
    """
    cwd = (root / cwd_in_repo).resolve()
    if test_cmd:
        return tuple(test_cmd), cwd
    configured = _pytest_config_dir(cwd, root)
    if configured is None:
        files = listed_files(root)
        if not has_test_files(files):
            if has_unittest_modules(root, files):
                return (python, "-m", "unittest"), root
            return None
    return (python, "-m", "pytest", *PYTEST_OPTIONS), configured or root


def has_unittest_modules(root: Path, files: Sequence[str]) -> bool:
    """Whether the top level of ``root`` has a module ``python -m unittest`` discovers (its
    default pattern is ``test*.py``) that imports ``unittest``."""
    for path in files:
        name = PurePosixPath(path)
        if len(name.parts) != 1 or not (name.name.startswith("test") and name.suffix == ".py"):
            continue
        try:
            text = (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "import unittest" in text or "from unittest" in text:
            return True
    return False


def run_tests(
    command: Sequence[str],
    *,
    cwd: Path,
    project_root: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> TestRun:
    """Run ``command``; when it is pytest, read each test's outcome from its JUnit XML.

    ``TestRun.command`` leaves out the report's temporary path, so the user can run it again.
    """
    with tempfile.TemporaryDirectory(prefix="tracefix-junit-") as scratch:
        report = Path(scratch) / "junit.xml"
        shown = list(command)
        if is_pytest(shown):
            shown += _missing_options(shown)
        argv = [*shown, f"--junitxml={report}"] if is_pytest(shown) else shown
        tail = _Tail(OUTPUT_TAIL_CHARS)
        started = time.perf_counter()
        capture = run_captured(
            argv,
            cwd=cwd,
            project_root=project_root,
            stream=True,
            stdout=tail,
            stderr=tail,
            env=env,
            timeout=timeout,
        )
        return TestRun(
            command=tuple(shown),
            returncode=capture.returncode,
            outcomes=parse_junit(report) if report.is_file() else {},
            seconds=time.perf_counter() - started,
            output_tail=tail.getvalue(),
            leaks=capture.leaks,
        )


def compare(before: TestRun, after: TestRun) -> list[str]:
    """Tests that passed before and fail, error, are skipped or are missing after the fix.

    A skip counts: a test that no longer runs checks nothing. Without per-test outcomes the
    command itself is the one test: it regresses when it passed before and fails after.
    """
    if not before.outcomes and not after.outcomes:
        return [shlex.join(after.command)] if before.ok and not after.ok else []
    return [
        test
        for test, outcome in before.outcomes.items()
        if outcome == PASSED and after.outcomes.get(test) != PASSED
    ]


def parse_junit(path: Path) -> dict[str, str]:
    """Each test case of a pytest JUnit XML report (``junit_family=xunit1``) by node id."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError):
        return {}
    outcomes: dict[str, str] = {}
    for case in root.iter("testcase"):
        test = _node_id(case.get("classname") or "", case.get("name") or "", case.get("file"))
        outcome = PASSED
        for child in case:
            kind = {"failure": FAILED, "error": ERROR, "skipped": SKIPPED}.get(child.tag)
            if kind and SEVERITY[kind] > SEVERITY[outcome]:
                outcome = kind
        if SEVERITY[outcome] >= SEVERITY[outcomes.get(test, PASSED)]:
            outcomes[test] = outcome
    return outcomes


def is_pytest(argv: Sequence[str]) -> bool:
    if not argv:
        return False
    if Path(argv[0]).name in {"pytest", "py.test"}:
        return True
    return Path(argv[0]).name.startswith("python") and list(argv[1:3]) == ["-m", "pytest"]


def _missing_options(argv: Sequence[str]) -> list[str]:
    """The file-per-test node ids need xunit1; a user's ``--test-cmd`` may not say so."""
    return [] if "junit_family=xunit1" in argv else ["-o", "junit_family=xunit1"]


def _node_id(classname: str, name: str, file: str | None) -> str:
    """``tests/test_app.py::TestX::test_y`` from JUnit's dotted class name and the file."""
    if not classname:
        return name
    parts = classname.split(".")
    if file:
        module_parts = PurePosixPath(file).with_suffix("").parts
        if tuple(parts[: len(module_parts)]) == module_parts:
            return "::".join([file, *parts[len(module_parts) :], name])
    return f"{classname}::{name}"


def _pytest_config_dir(start: Path, root: Path) -> Path | None:
    """The nearest folder from ``start`` up to ``root`` whose files configure pytest."""
    for folder in [start, *start.parents]:
        if _configures_pytest(folder):
            return folder
        if folder == root:
            break
    return None


def _configures_pytest(folder: Path) -> bool:
    if (folder / "pytest.ini").is_file():
        return True
    try:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            if "ini_options" in data.get("tool", {}).get("pytest", {}):
                return True
        for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
            if (folder / name).is_file():
                parser = configparser.ConfigParser(interpolation=None)
                parser.read(folder / name, encoding="utf-8")
                if parser.has_section(section):
                    return True
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return False
    return False


class _Tail(io.StringIO):
    """A text stream that keeps only its last ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.tell() > 2 * self.limit:
            rest = self.getvalue()[-self.limit :]
            self.seek(0)
            self.truncate()
            super().write(rest)
        return written

    def getvalue(self) -> str:
        return super().getvalue()[-self.limit :]
