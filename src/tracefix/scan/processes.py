"""A scan on two cores: the project's tests detected in a forked process, the rest in this one.

Parsing is most of a scan's time (``BENCHMARKS.md``), and trees cannot cross processes for less
than parsing them again costs. What can be split is the paths to report on, each process
parsing only the files its share reaches: tests reach into the code they test, but no module
of the app reaches into the tests, so the tests' side parses only the app code they call or
import, and the app's side reads the tests for their imports alone. Each side runs the same detectors on the same
``Project``; ``engine.collect`` puts what both found in the order one process would have.

Only where ``os.fork`` is safe and cheap (not macOS, whose system libraries may not survive a
fork, nor Windows, which has none), from a process with no other thread, with a second core to
run on, and with both shares non-empty. If the forked process fails in any way, this one
detects its share itself: a scan that could have been faster never loses a finding.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Sequence

from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.project import Project
from tracefix.recipes._base import Recipe
from tracefix.scan.engine import Detected
from tracefix.scan.engine import ScanResult
from tracefix.scan.engine import collect
from tracefix.scan.engine import detect


def scan(project: Project, paths: Sequence[str], recipes: Sequence[Recipe]) -> ScanResult:
    """``engine.scan``, the test files' share detected in a second process when one can run."""
    tests = [path for path in paths if is_test_path(path)]
    rest = [path for path in paths if not is_test_path(path)]
    if not tests or not rest or not _can_fork():
        return collect(project, paths, recipes, [detect(project, paths, recipes)])
    forked = _fork(project, tests, recipes)
    mine = detect(project, rest, recipes)
    theirs = forked.result() if forked is not None else None
    if theirs is None:
        theirs = detect(project, tests, recipes)
    return collect(project, paths, recipes, [mine, theirs])


def _can_fork() -> bool:
    # A thread holding a lock (the import system's, a logger's) as the fork happens would
    # leave it held for good in the forked process.
    if not hasattr(os, "fork") or sys.platform == "darwin" or threading.active_count() > 1:
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) > 1


class _Forked:
    """A forked process detecting a share of the paths, and the pipe it sends its report on."""

    def __init__(self, pid: int, reading: int) -> None:
        self.pid = pid
        self.reading = reading

    def result(self) -> Detected | None:
        """What it detected; ``None`` if it failed (it has ended either way)."""
        chunks = []
        try:
            with os.fdopen(self.reading, "rb") as pipe:
                while chunk := pipe.read(1 << 16):
                    chunks.append(chunk)
        finally:
            _, status = os.waitpid(self.pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            detected = pickle.loads(b"".join(chunks))
        except Exception:
            return None
        return detected if isinstance(detected, Detected) else None


def _fork(project: Project, paths: Sequence[str], recipes: Sequence[Recipe]) -> _Forked | None:
    try:
        reading, writing = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(reading)
        os.close(writing)
        return None
    if pid == 0:  # pragma: no cover - the forked process; its report is what tests check
        status = 1
        try:
            os.close(reading)
            report = pickle.dumps(detect(project, paths, recipes), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writing, "wb") as pipe:
                pipe.write(report)
            status = 0
        finally:
            # Straight out: no atexit handler, no flush of buffers this process inherited,
            # no freeing of the trees it parsed.
            os._exit(status)
    os.close(writing)
    return _Forked(pid, reading)
