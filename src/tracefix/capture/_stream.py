"""Run a process while copying its output through as it arrives, and keep the end of stderr.

``_process.run`` collects output and shows it afterwards; ``tracefix run`` must instead behave
like the command run directly: output appears as it is written, byte for byte. Each pipe gets a
reader thread because select() on pipes is not portable and threads make no assumption about
how the child buffers.
"""

from __future__ import annotations

import codecs
import os
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

from tracefix import _process
from tracefix.errors import CommandNotFound

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
            _process.kill_group(text_proc)
        _join(readers, DRAIN_SECONDS)
        if any(reader.is_alive() for reader in readers):
            _process.kill_group(text_proc)
            _join(readers, DRAIN_SECONDS)
    except BaseException:
        _process.kill_group(text_proc)
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
