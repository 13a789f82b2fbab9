"""The one way tracefix runs another program (git, the user's command, the user's tests).

Every process gets its own process group, so that Ctrl-C or a time limit ends it with all its
children, and a missing executable becomes ``CommandNotFound`` instead of a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
