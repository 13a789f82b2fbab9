"""The child's frames of an error a process pool re-raised in the parent.

``Pool`` and ``ProcessPoolExecutor`` pickle the child's exception back to the parent, which
raises it again from its own frames (``pool.map`` -> ``get``); the child's traceback survives
only as text, in the exception's cause: ``multiprocessing.pool.RemoteTraceback`` or
``concurrent.futures.process._RemoteTraceback``. Its frames are read back here, each path
matched to a project file (relative as recorded, or under the root the event's own project
frames were run from), so the recipe reads them like any other frames.
"""

from __future__ import annotations

import re

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import Frame

REMOTE_TRACEBACK_TYPES = frozenset({"RemoteTraceback", "_RemoteTraceback"})
FRAME_LINE = re.compile(r'^\s*File "(?P<path>.+)", line (?P<lineno>\d+), in (?P<function>.+)$')


def child_frames(event: Event, project: Project) -> tuple[Frame, ...]:
    """The frames the child process raised from, when the event carries them as text; else the
    event's own frames (a ``Process``'s traceback, read from stderr, is already the child's)."""
    for exception in event.exceptions:
        if exception.type in REMOTE_TRACEBACK_TYPES:
            frames = parse_frames(exception.value, project, _roots(event))
            if frames:
                return frames
    return event.frames


def parse_frames(text: str, project: Project, roots: set[str]) -> tuple[Frame, ...]:
    lines = text.splitlines()
    frames: list[Frame] = []
    for index, line in enumerate(lines):
        match = FRAME_LINE.match(line)
        if match is None:
            continue
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        source = None if following.startswith("File ") else following or None
        path = match.group("path")
        relative = _project_path(path, project, roots)
        frames.append(
            Frame(
                filename=relative or path,
                function=match.group("function").strip(),
                lineno=int(match.group("lineno")),
                abs_path=path,
                context_line=source,
                in_app=relative is not None,
            )
        )
    return tuple(frames)


def _roots(event: Event) -> set[str]:
    """The directories the project ran from, as the event's project frames show them."""
    roots = set()
    for exception in event.exceptions:
        for frame in exception.frames:
            absolute = (frame.abs_path or "").replace("\\", "/")
            if frame.in_app and absolute.endswith("/" + frame.filename):
                roots.add(absolute[: -len(frame.filename)])
    return roots


def _project_path(path: str, project: Project, roots: set[str]) -> str | None:
    path = path.replace("\\", "/")
    if project.source(path) is not None:
        return path
    for root in roots:
        if path.startswith(root) and project.source(path[len(root) :]) is not None:
            return path[len(root) :]
    return None
