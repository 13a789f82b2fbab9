"""Run the user's command with the capture hook injected, and collect what it recorded.

The hook (``_hook/``) reaches every Python process the command starts, children included,
through ``PYTHONPATH`` (``sitecustomize``) and ``PYTEST_PLUGINS`` (the pytest plugin). Each of
those processes writes its events into one temporary folder, which is read back here once the
command has ended. When no process ran the hook (not Python, ``python -I``/``-S``, an embedded
interpreter) the traceback text on stderr is the only evidence left, so it is parsed instead;
likewise when the command failed and the hooked processes recorded nothing (the failing one may
be a grandchild started with ``-I``). A hooked run that exits 0 is not parsed: tracebacks that
programs log for handled errors would become failures.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from tracefix._process import TextSink
from tracefix._process import run_streaming
from tracefix.capture.traceback_text import parse_tracebacks
from tracefix.event import Entry
from tracefix.event import Event

HOOK_DIR = Path(__file__).resolve().parent / "_hook"
PYTEST_PLUGIN = "tracefix_pytest"
STDERR_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class Capture:
    """What one run of the user's command left behind."""

    returncode: int
    #: In order of capture; the last one is normally the failure the user saw.
    events: tuple[Event, ...]
    #: Human-readable: where a Flask context was left pushed ("at exit: ...", "<node id>: ...").
    leaks: tuple[str, ...]
    #: The last ~64 KiB of stderr, for the fallback parser and reports.
    stderr_tail: str
    #: Whether the in-process hook ran in at least one process.
    hooked: bool
    seconds: float

    @property
    def failed(self) -> bool:
        """Whether anything went wrong: the exit code, an exception (thread ones exit 0), a leak."""
        return self.returncode != 0 or bool(self.events) or bool(self.leaks)


def run_captured(
    argv: Sequence[str],
    *,
    cwd: Path,
    project_root: Path,
    stream: bool = True,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Capture:
    """Run ``argv`` in ``cwd`` and record every exception it raises as an ``Event``.

    With ``stream`` the command's stdout and stderr reach ``stdout``/``stderr`` (default: ours)
    unchanged as they are written; without it the command runs quietly. Raises
    ``CommandNotFound`` for a missing executable; on Ctrl-C the command's process group is
    killed and ``KeyboardInterrupt`` re-raised.
    """
    if not argv:
        raise ValueError("empty command")
    capture_dir = Path(tempfile.mkdtemp(prefix="tracefix-capture-"))
    try:
        child_env = hook_env(
            argv,
            base=os.environ if env is None else env,
            capture_dir=capture_dir,
            project_root=project_root,
        )
        stdout_sink = stderr_sink = None
        if stream:
            stdout_sink = TextSink(stdout if stdout is not None else sys.stdout)
            stderr_sink = TextSink(stderr if stderr is not None else sys.stderr)
        try:
            streamed = run_streaming(
                argv,
                cwd=cwd,
                env=child_env,
                stdout_sink=stdout_sink.write if stdout_sink else None,
                stderr_sink=stderr_sink.write if stderr_sink else None,
                tail_bytes=STDERR_TAIL_BYTES,
                timeout=timeout,
            )
        finally:
            for sink in (stdout_sink, stderr_sink):
                if sink is not None:
                    sink.close()
        stderr_tail = streamed.stderr_tail.decode("utf-8", errors="replace")
        hooked = any(capture_dir.glob("hooked-*.json"))
        events = read_events(capture_dir)
        if not hooked or (not events and streamed.returncode != 0):
            events = _parsed_events(stderr_tail, project_root, argv, cwd)
        return Capture(
            returncode=streamed.returncode,
            events=tuple(events),
            leaks=tuple(read_leaks(capture_dir)),
            stderr_tail=stderr_tail,
            hooked=hooked,
            seconds=streamed.seconds,
        )
    finally:
        shutil.rmtree(capture_dir, ignore_errors=True)


def hook_env(
    argv: Sequence[str], *, base: Mapping[str, str], capture_dir: Path, project_root: Path
) -> dict[str, str]:
    """The command's environment, with the hook on the path and told where to write."""
    env = dict(base)
    python_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(HOOK_DIR) + (os.pathsep + python_path if python_path else "")
    env["TRACEFIX_CAPTURE_DIR"] = str(capture_dir)
    env["TRACEFIX_PROJECT_ROOT"] = str(project_root.resolve())
    env["TRACEFIX_ENTRY_ARGV"] = json.dumps(list(argv))
    if not ignores_python_path(argv):
        plugins = [p for p in env.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
        if PYTEST_PLUGIN not in plugins:
            plugins.append(PYTEST_PLUGIN)
        env["PYTEST_PLUGINS"] = ",".join(plugins)
    return env


def ignores_python_path(argv: Sequence[str]) -> bool:
    """Whether ``argv`` starts Python with ``-I`` or ``-E``.

    Such an interpreter cannot import the pytest plugin, and pytest fails on a plugin named in
    ``PYTEST_PLUGINS`` that it cannot import, so the plugin must not be named at all.
    """
    if not Path(argv[0]).name.startswith("python"):
        return False
    for arg in argv[1:]:
        if not arg.startswith("-") or arg == "-" or arg.startswith("--"):
            return False
        flags = arg[1:]
        for flag in flags:
            if flag in "IE":
                return True
            if flag in "mcWX":
                return False
    return False


def read_events(capture_dir: Path) -> list[Event]:
    events = []
    for path in sorted(capture_dir.glob("event-*.json")):
        try:
            events.append(Event.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return events


def read_leaks(capture_dir: Path) -> list[str]:
    leaks = []
    for path in sorted(capture_dir.glob("leak-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            where = "at exit" if data.get("where") == "exit" else str(data.get("where"))
            leaks.append(f"{where}: {data.get('detail')}")
        except (OSError, ValueError, AttributeError):
            continue
    return leaks


def _parsed_events(
    stderr_tail: str, project_root: Path, argv: Sequence[str], cwd: Path
) -> list[Event]:
    """Events read from stderr, less Ctrl-C (the hook ignores it too), with how the run started.

    Parsed events know nothing of how the command was run; the runner does.
    """
    entry_argv = tuple(argv)
    return [
        replace(event, entry=Entry(argv=entry_argv, cwd=str(cwd), test=event.entry.test))
        for event in parse_tracebacks(stderr_tail, project_root)
        if event.exception.type != "KeyboardInterrupt"
    ]
