"""Record a recipe case's ``event.json`` by really running its command.

``python -m tracefix.capture.record CASE_DIR [CASE_DIR ...]``

A case's event must be what ``tracefix run`` captures, not something written by hand, or the
recipe tests would pass on events no user ever produces. The project is copied to a temporary
git repository (as a user's would be), the command is run with the hook, and the last event
(the failure the user saw) is written with everything machine-specific made stable: temporary
paths, library locations, memory addresses, ids and times. Re-recording on another machine or
twice in a row gives the same file, so git only shows real changes.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracefix.capture.runner import Capture
from tracefix.capture.runner import run_captured
from tracefix.event import Entry
from tracefix.event import Event
from tracefix.git import git

STABLE_EVENT_ID = "0" * 32
COPY_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "instance")
LIBRARY_PREFIX = re.compile(r"(?:/[^\s'\"<>()\[\]]*)?/(?:site|dist)-packages/")
MEMORY_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
#: ``id()`` values printed in decimal (SQLAlchemy's ``<User (transient 1400...)>``).
OBJECT_ID = re.compile(r"\b\d{12,}\b")
#: Reprs of the clock (``datetime.now()`` in a local): they differ on every run.
CLOCK_REPR = re.compile(r"\bdatetime\.(datetime|date|time)\([\d, ]*\)")
TIMEOUT_SECONDS = 120.0


class RecordError(Exception):
    """The case could not be recorded (no event captured, missing files)."""


def record_case(case_dir: Path, *, stream: bool = True) -> Event:
    """Run the case's command on a copy of its project and write ``event.json``; return it."""
    case_dir = case_dir.resolve()
    command_file = case_dir / "command.txt"
    project_dir = case_dir / "project"
    if not command_file.is_file() or not project_dir.is_dir():
        raise RecordError(f"{case_dir} needs command.txt and project/")
    argv = shlex.split(command_file.read_text(encoding="utf-8").strip())
    if not argv:
        raise RecordError(f"{command_file} is empty")
    with tempfile.TemporaryDirectory(prefix="tracefix-record-") as temporary:
        root = Path(temporary).resolve() / "project"
        shutil.copytree(project_dir, root, ignore=COPY_IGNORED)
        _commit_all(root)
        capture = run_captured(
            executable_argv(argv),
            cwd=root,
            project_root=root,
            stream=stream,
            timeout=TIMEOUT_SECONDS,
        )
        event = _last_event(capture, case_dir)
        stable = stable_event_dict(event, argv=argv, roots=(root, Path(temporary)))
    (case_dir / "event.json").write_text(
        json.dumps(stable, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return Event.from_dict(stable)


def executable_argv(argv: list[str]) -> list[str]:
    """``python`` is this interpreter; other programs come from its environment when there."""
    first = argv[0]
    if first in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    beside = Path(sys.executable).parent / first
    if "/" not in first and beside.is_file():
        return [str(beside), *argv[1:]]
    return list(argv)


def stable_event_dict(event: Event, *, argv: list[str], roots: tuple[Path, ...]) -> dict[str, Any]:
    """The event as a dict that does not depend on where or when it was recorded."""
    cwd = event.entry.cwd
    stable_cwd = "."
    for root in roots:
        if cwd and (cwd == str(root) or cwd.startswith(f"{root}/")):
            stable_cwd = cwd[len(str(root)) :].lstrip("/") or "."
            break
    event = replace(
        event,
        event_id=STABLE_EVENT_ID,
        timestamp=None,
        entry=Entry(argv=tuple(argv), cwd=stable_cwd, test=event.entry.test),
        exceptions=tuple(replace(exc, thread_id=None) for exc in event.exceptions),
    )
    data = event.to_dict()
    entry = data["contexts"].pop("entry")
    stable: dict[str, Any] = _map_strings(data, lambda text: stable_text(text, roots))
    stable["contexts"]["entry"] = entry
    stable["event_id"] = STABLE_EVENT_ID
    return stable


def stable_text(text: str, roots: tuple[Path, ...]) -> str:
    for root in roots:
        for form in {str(root), str(root.resolve())}:
            text = text.replace(form + "/", "").replace(form, ".")
    text = LIBRARY_PREFIX.sub("/site-packages/", text)
    for stdlib in _stdlib_dirs():
        text = text.replace(stdlib + "/", "/stdlib/")
    text = CLOCK_REPR.sub(r"datetime.\1(...)", text)
    return OBJECT_ID.sub("0", MEMORY_ADDRESS.sub("0x0", text))


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib") if paths.get(key)}
    dirs |= {str(Path(d).resolve()) for d in dirs}
    return sorted(dirs, key=len, reverse=True)


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def _commit_all(root: Path) -> None:
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git(
        "-c", "user.name=tracefix", "-c", "user.email=tracefix@localhost",
        "-c", "commit.gpgsign=false",
        "commit", "-q", "--allow-empty", "-m", "case project",
        cwd=root,
    )  # fmt: skip


def _last_event(capture: Capture, case_dir: Path) -> Event:
    if not capture.events:
        raise RecordError(
            f"{case_dir.name}: the command captured no event (exit code {capture.returncode})"
        )
    return capture.events[-1]


def main(args: list[str] | None = None) -> int:
    case_dirs = [Path(a) for a in (sys.argv[1:] if args is None else args)]
    if not case_dirs:
        print("usage: python -m tracefix.capture.record CASE_DIR [CASE_DIR ...]", file=sys.stderr)
        return 2
    status = 0
    for case_dir in case_dirs:
        try:
            event = record_case(case_dir)
        except RecordError as exc:
            print(f"record: {exc}", file=sys.stderr)
            status = 1
            continue
        summary = f"{event.exception.type}: {event.exception.first_line}"
        print(f"wrote {case_dir / 'event.json'}: {summary}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
