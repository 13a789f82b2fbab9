"""The one way tracefix runs another program (git, the user's command, the user's tests).

Every process gets its own process group, so that Ctrl-C or a time limit ends it with all its
children, and a missing executable becomes ``CommandNotFound`` instead of a traceback.

``run`` collects the output and hands it over at the end. ``run_streaming`` is for the user's
command: like running it directly, output appears as it is written, byte for byte. Each pipe
gets a reader thread, since select() on pipes is not portable and threads assume nothing about
how the child buffers.
"""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from typing import cast

from tracefix.errors import CommandNotFound


@dataclass(frozen=True)
class Result:
    """What a finished process left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class ProcessError(Exception):
    """A process that had to succeed did not. ``str()`` is the whole report."""

    def __init__(self, result: Result) -> None:
        super().__init__(result)
        self.result = result

    def __str__(self) -> str:
        r = self.result
        return (
            f"command: {' '.join(r.argv)}\nreturn code: {r.returncode}\n"
            f"stdout:\n{_indent(r.stdout)}\nstderr:\n{_indent(r.stderr)}"
        )


def no_git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without inherited ``GIT_*`` variables.

    A git hook or another git command exports GIT_DIR, GIT_INDEX_FILE or GIT_WORK_TREE; inherited,
    they would point our git commands at the wrong repository (pre-commit issue #300).
    """
    source = os.environ if env is None else env
    return {k: v for k, v in source.items() if not k.startswith("GIT_") or k == "GIT_EXEC_PATH"}


def run(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = False,
    timeout: float | None = None,
    input: str | None = None,
) -> Result:
    """Run ``argv`` to completion and capture its output.

    Raises ``CommandNotFound`` when the executable does not exist and ``ProcessError`` when
    ``check`` is set and the exit code is not 0. A timeout kills the whole process group.
    """
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise CommandNotFound(f"command not found: {argv[0]}") from exc
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        err += f"\n[tracefix] killed after {timeout:.0f} s"
    except BaseException:
        kill_group(proc)
        raise
    result = Result(tuple(argv), proc.returncode, out, err, time.perf_counter() - start)
    if check and not result.ok:
        raise ProcessError(result)
    return result


def kill_group(proc: subprocess.Popen[str]) -> None:
    """End ``proc`` and every process it started; wait for it so no zombie is left."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines()) if text.strip() else "    (none)"


CHUNK_BYTES = 64 * 1024
#: How long to wait for the pipes to close once the process itself has exited: a background
#: grandchild may keep them open.
DRAIN_SECONDS = 2.0

Sink = Callable[[bytes], None]


@dataclass(frozen=True)
class Streamed:
    returncode: int
    stderr_tail: bytes
    timed_out: bool
    seconds: float


class TailBuffer:
    """The last ``limit`` bytes written to it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data = bytearray()

    def write(self, chunk: bytes) -> None:
        self._data += chunk
        if len(self._data) > self.limit:
            del self._data[: len(self._data) - self.limit]

    def getvalue(self) -> bytes:
        return bytes(self._data)


class TextSink:
    """Writes raw bytes to a text stream: to its binary buffer when it has one, else decoded."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.buffer = getattr(target, "buffer", None)
        encoding = getattr(target, "encoding", None) or "utf-8"
        try:
            self.decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        except LookupError:
            self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.lock = threading.Lock()

    def write(self, chunk: bytes) -> None:
        with self.lock:
            if self.buffer is not None:
                self.target.flush()
                self.buffer.write(chunk)
                self.buffer.flush()
            else:
                self.target.write(self.decoder.decode(chunk))
                self.target.flush()

    def close(self) -> None:
        with self.lock:
            if self.buffer is None:
                rest = self.decoder.decode(b"", final=True)
                if rest:
                    self.target.write(rest)
                    self.target.flush()


def run_streaming(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout_sink: Sink | None,
    stderr_sink: Sink | None,
    tail_bytes: int,
    timeout: float | None = None,
) -> Streamed:
    """Run ``argv`` in its own process group, feeding its output to the sinks as it arrives.

    Raises ``CommandNotFound`` when the executable does not exist. On any interruption
    (KeyboardInterrupt included) the whole process group is killed before re-raising.
    """
    start = time.perf_counter()
    stdin = None if not _stdin_is_terminal() else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        if not Path(cwd).is_dir():
            raise CommandNotFound(f"working directory not found: {cwd}") from exc
        raise CommandNotFound(f"command not found: {argv[0]}") from exc
    tail = TailBuffer(tail_bytes)

    def on_stderr(chunk: bytes) -> None:
        tail.write(chunk)
        if stderr_sink is not None:
            stderr_sink(chunk)

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        _start_reader(proc.stdout.fileno(), stdout_sink),
        _start_reader(proc.stderr.fileno(), on_stderr),
    ]
    timed_out = False
    text_proc = cast("subprocess.Popen[str]", proc)
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(text_proc)
        _join(readers, DRAIN_SECONDS)
        if any(reader.is_alive() for reader in readers):
            kill_group(text_proc)
            _join(readers, DRAIN_SECONDS)
    except BaseException:
        kill_group(text_proc)
        _join(readers, DRAIN_SECONDS)
        raise
    finally:
        for pipe in (proc.stdout, proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
    if timed_out:
        tail.write(f"\n[tracefix] killed after {timeout:.0f} s\n".encode())
    return Streamed(proc.returncode, tail.getvalue(), timed_out, time.perf_counter() - start)


def _start_reader(fd: int, sink: Sink | None) -> threading.Thread:
    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, CHUNK_BYTES)
            except OSError:
                return
            if not chunk:
                return
            if sink is not None:
                try:
                    sink(chunk)
                except (OSError, ValueError):
                    pass

    thread = threading.Thread(target=pump, name=f"tracefix-pipe-{fd}", daemon=True)
    thread.start()
    return thread


def _join(threads: list[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _stdin_is_terminal() -> bool:
    """A child in its own process group stops (SIGTTIN) when it reads the terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
