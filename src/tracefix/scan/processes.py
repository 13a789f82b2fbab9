"""A scan on two cores: the app's files and the tests detected in two processes.

Parsing is most of a scan's time (``BENCHMARKS.md``), and trees cannot cross processes for less
than parsing them again costs, so the work is split by what each part must parse. The
recipes that read the whole app (``Recipe.reads_the_app``: they follow scripts through what
they import) run on the app's files in this process, which parses them all. The rest (every
recipe on each test file, the other recipes on the app's files) goes to whichever process is
free first, the forked one starting at once: tests reach into the code they test, no module
of the app reaches into the tests, and those recipes parse only the few files they name. The
forked process first sends what the tests import, which this one needs (a script some file
imports is not run as a script) and would otherwise parse every test for. Each side runs the
same detectors on the same ``Project``; ``engine.collect`` puts what both found in the order
one process would have.

Only where ``os.fork`` is safe and cheap (not macOS, whose system libraries may not survive a
fork, nor Windows, which has none), from a process with no other thread, with a second core to
run on, and with work for both. If the forked process fails in any way, this one detects its
share itself: a scan that could have been faster never loses a finding.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import BinaryIO

from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.project import Project
from tracefix.recipes._base import Recipe
from tracefix.scan.context_use import analysis
from tracefix.scan.engine import Detected
from tracefix.scan.engine import ScanResult
from tracefix.scan.engine import collect
from tracefix.scan.engine import detect


def scan(project: Project, paths: Sequence[str], recipes: Sequence[Recipe]) -> ScanResult:
    """``engine.scan``, on two processes when a second one can run."""
    tests = [path for path in paths if is_test_path(path)]
    app = [path for path in paths if not is_test_path(path)]
    whole = [recipe for recipe in recipes if recipe.reads_the_app] or list(recipes)
    rest = [recipe for recipe in recipes if recipe not in whole]
    # The work either process may do: each test file, then the other recipes on the app.
    count = len(tests) + bool(rest)
    queue = _Queue.of(count) if app and count and _can_fork() else None
    if queue is None:
        return collect(project, paths, recipes, [detect(project, paths, recipes)])

    def work(item: int) -> Detected:
        if item < len(tests):
            return detect(project, [tests[item]], recipes)
        # The app's files are parsed, and their syntax checked, by ``mine`` below.
        return detect(project, app, rest, check_syntax=False)

    def messages() -> Iterator[object]:
        # First what the app's side needs of the tests: what they import (``_importers``).
        reading = analysis(project)
        yield {path: reading.modules_imported_by(path) for path in tests}
        yield [work(item) for item in iter(queue.take, None)]

    forked = _fork(messages)
    if forked is not None:
        analysis(project).imports_read_elsewhere(forked.imports)
    mine = [detect(project, app, whole)]
    done_here = set()
    while (item := queue.take()) is not None:
        mine.append(work(item))
        done_here.add(item)
    queue.close()
    theirs = forked.result() if forked is not None else None
    if theirs is None:
        theirs = [work(item) for item in range(count) if item not in done_here]
    return collect(project, paths, recipes, [*mine, *theirs])


class _Queue:
    """Work items, each handed to whichever process asks for it first: their numbers, four
    bytes each, written into a pipe both processes read from. Reads from a pipe are atomic,
    so no item is handed out twice, and the first process free takes the next one."""

    def __init__(self, reading: int) -> None:
        self.reading = reading

    @classmethod
    def of(cls, count: int) -> _Queue | None:
        """``None`` if the items do not fit in a pipe, or there is none."""
        try:
            reading, writing = os.pipe()
        except OSError:
            return None
        items = b"".join(item.to_bytes(4, "little") for item in range(count))
        try:
            os.set_blocking(writing, False)
            written = os.write(writing, items)
        except OSError:
            written = -1
        finally:
            os.close(writing)
        if written != len(items):
            os.close(reading)
            return None
        return cls(reading)

    def take(self) -> int | None:
        """The next item; ``None`` when none is left."""
        data = os.read(self.reading, 4)
        return int.from_bytes(data, "little") if len(data) == 4 else None

    def close(self) -> None:
        os.close(self.reading)


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
    """A forked process and the pipe it sends its messages on: the tests' imports, then what
    it detected. The first is read as soon as it comes, by a thread of its own: a message
    larger than the pipe holds would otherwise keep the forked process waiting, idle, until
    this one asked for it."""

    def __init__(self, pid: int, reading: int) -> None:
        self.pid = pid
        self.pipe = os.fdopen(reading, "rb")
        self._imports: Mapping[str, frozenset[str]] = {}
        self._reader = threading.Thread(target=self._read_imports, daemon=True)
        self._reader.start()

    def _read_imports(self) -> None:
        message = _receive(self.pipe)
        if isinstance(message, dict):
            self._imports = message

    def imports(self) -> Mapping[str, frozenset[str]]:
        """The modules each test file imports; none if the process failed before it sent them."""
        self._reader.join()
        return self._imports

    def result(self) -> list[Detected] | None:
        """What it detected; ``None`` if it failed (it has ended either way)."""
        try:
            self._reader.join()
            detected = _receive(self.pipe)
        finally:
            self.pipe.close()
            _, status = os.waitpid(self.pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        if isinstance(detected, list) and all(isinstance(part, Detected) for part in detected):
            return detected
        return None


def _fork(messages: Callable[[], Iterable[object]]) -> _Forked | None:
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
    if pid == 0:  # pragma: no cover - the forked process; its messages are what tests check
        status = 1
        try:
            os.close(reading)
            gc.disable()  # it only parses and reads trees, then ends: see engine.detect
            with os.fdopen(writing, "wb") as pipe:
                for message in messages():
                    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
                    pipe.write(len(data).to_bytes(8, "little"))
                    pipe.write(data)
                    pipe.flush()
            status = 0
        finally:
            # Straight out: no atexit handler, no flush of buffers this process inherited,
            # no freeing of the trees it parsed.
            os._exit(status)
    os.close(writing)
    return _Forked(pid, reading)


def _receive(pipe: BinaryIO) -> object:
    """The next message on ``pipe``; ``None`` at its end, or when it does not unpickle."""
    try:
        size = int.from_bytes(pipe.read(8), "little")
        data = pipe.read(size)
        return pickle.loads(data) if size and len(data) == size else None
    except Exception:
        return None
