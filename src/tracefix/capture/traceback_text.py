"""Read events back out of traceback text, for processes the hook could not reach.

A command that is not Python, runs ``python -I``/``-S``, or embeds its own interpreter still
prints CPython's standard traceback on stderr. This parser turns that text into the same
``Event`` the hook would have recorded, minus what only the live process knows (locals, Flask
state, frame modules). It reads chained exceptions, ``Exception in thread NAME:`` headers,
3.11+ caret lines, pytest's ``--tb=native`` report, and pytest's report of a ``conftest.py``
that raised on import.

Source lines are re-read from disk when the file still exists, so an event parsed from text has
the same context (indentation, surrounding lines) as a hooked one.
"""

from __future__ import annotations

import linecache
import os
import re
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path

from tracefix.capture._hook.tracefix_capture import inside_venv
from tracefix.event import Entry
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame

CONTEXT_LINES = 5

TRACEBACK_START = "Traceback (most recent call last):"
CHAIN_SEPARATORS = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
FRAME_LINE = re.compile(r'^\s*File "(?P<path>.+)", line (?P<lineno>\d+)(?:, in (?P<function>.+))?$')
#: Not anchored: with stdout and stderr merged, the header may follow unterminated output.
THREAD_HEADER = re.compile(r"Exception in thread (?P<name>.+):$")
IGNORED_HEADER = re.compile(r"^Exception ignored in(?: .*)?:")
EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::(?: (?P<value>.*))?)?$")
MARKER_LINE = re.compile(r"^\s*[\^~]+[\s\^~]*$")
#: Lines that close a pytest failure section or start another part of pytest's report.
PYTEST_SECTION = re.compile(r"^(?:_{3,}|-{3,}|={3,})( |$)")
PYTEST_TEST_HEADER = re.compile(
    r"^_{3,} (?:ERROR collecting |ERROR at (?:setup|teardown) of )?(?P<name>\S.*?) _{3,}$"
)
PYTEST_SUMMARY = re.compile(r"^(?:FAILED|ERROR) (?P<nodeid>\S+)(?: - .*)?$")
#: pytest's report of a ``conftest.py`` that raised while it was imported (exit code 4), in
#: its own short form: ``path:line: in function`` frames, then ``E   Type: message`` lines.
PYTEST_CONFTEST_HEADER = re.compile(r"^ImportError while loading conftest '.+'\.$")
SHORT_FRAME_LINE = re.compile(r"^(?P<path>\S.*?):(?P<lineno>\d+): in (?P<function>\S+)$")
ERROR_LINE = re.compile(r"^E(?: {3}(?P<text>.*))?$")
HARNESS_PACKAGES = frozenset({"_pytest", "pluggy"})
LIBRARY_PARTS = frozenset({"site-packages", "dist-packages"})
STDLIB_PATH = re.compile(r"/lib(?:64)?/python\d+(?:\.\d+)?t?/")


@dataclass
class _Block:
    """One ``Traceback (most recent call last):`` block while it is being read."""

    frames: list[Frame] = field(default_factory=list)
    type: str | None = None
    value_lines: list[str] = field(default_factory=list)


def parse_tracebacks(text: str, project_root: Path | None) -> list[Event]:
    """Every traceback in ``text`` as an ``Event``, in the order they were printed.

    Chained tracebacks become one event whose ``exceptions`` run oldest first, like the hook's.
    In pytest's report each event is tied to its test, and pytest's own frames are cut off the
    top as the plugin does.
    """
    root = str(project_root.resolve()) if project_root is not None else None
    lines = text.splitlines()
    events: list[Event] = []
    tests: list[str | None] = []
    nodeids: list[str] = []
    chain: list[ExceptionInfo] = []
    thread_name: str | None = "MainThread"
    pending_thread: str | None = "MainThread"
    section: str | None = None
    chained = False
    index = 0

    def close_chain() -> None:
        nonlocal chain
        if chain:
            events.append(Event(exceptions=tuple(chain), thread_name=thread_name))
            tests.append(section)
        chain = []

    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        header = THREAD_HEADER.search(stripped)
        test_header = PYTEST_TEST_HEADER.match(stripped)
        summary = PYTEST_SUMMARY.match(stripped)
        if stripped.endswith(TRACEBACK_START):
            if not chained:
                close_chain()
                thread_name = pending_thread
                pending_thread = "MainThread"
            chained = False
            block, index = _read_block(lines, index + 1, root)
            if block.type is not None:
                chain.append(_exception_info(block))
            continue
        if header:
            close_chain()
            pending_thread = header.group("name").strip()
        elif IGNORED_HEADER.match(stripped):
            close_chain()
            pending_thread = None
        elif stripped in CHAIN_SEPARATORS:
            chained = bool(chain)
        elif test_header:
            close_chain()
            section = test_header.group("name")
        elif summary:
            nodeids.append(summary.group("nodeid"))
        elif PYTEST_CONFTEST_HEADER.match(stripped):
            close_chain()
            block, index = _read_short_block(lines, index + 1, root)
            if block.type is not None:
                chain.append(_exception_info(block))
            close_chain()
            continue
        elif PYTEST_SECTION.match(stripped):
            close_chain()
            section = None
        elif stripped:
            chained = False
        index += 1
    close_chain()
    return [
        replace(event, entry=Entry(test=_nodeid(test, event, nodeids))) if test else event
        for event, test in zip(events, tests, strict=True)
    ]


def _nodeid(name: str, event: Event, nodeids: list[str]) -> str:
    """The node id of the test named ``name`` in a failure header of pytest's report.

    The short summary (``-r``) has the exact ids; without it, the id is rebuilt from the file of
    the test's own frame.
    """
    if "/" in name or name.endswith(".py"):
        return name
    suffix = "::" + name.replace(".", "::")
    for nodeid in nodeids:
        if nodeid.endswith(suffix):
            return nodeid
    first = event.frames[0] if event.frames else None
    if first is not None and first.in_app:
        return first.filename + suffix
    return name


def _read_block(lines: list[str], index: int, root: str | None) -> tuple[_Block, int]:
    """Read frames, then the exception line and its message, from ``lines[index]`` on."""
    block = _Block()
    while index < len(lines):
        line = lines[index]
        frame_match = FRAME_LINE.match(line)
        if frame_match:
            source, index = _source_line(lines, index + 1)
            block.frames.append(_frame(frame_match, source, root))
            continue
        if not line.strip() or line.startswith((" ", "\t")):
            index += 1
            continue
        exception = EXCEPTION_LINE.match(line.strip())
        if exception is None:
            return block, index
        block.type = exception.group("type")
        block.value_lines = [exception.group("value") or ""]
        index += 1
        break
    while index < len(lines) and not _ends_message(lines[index]):
        block.value_lines.append(lines[index])
        index += 1
    while len(block.value_lines) > 1 and not block.value_lines[-1].strip():
        block.value_lines.pop()
    return block, index


def _read_short_block(lines: list[str], index: int, root: str | None) -> tuple[_Block, int]:
    """Read pytest's short traceback (``path:line: in function`` frames, then ``E`` lines)."""
    block = _Block()
    while index < len(lines):
        line = lines[index]
        frame_match = SHORT_FRAME_LINE.match(line)
        error = ERROR_LINE.match(line)
        if frame_match and block.type is None:
            source, index = _source_line(lines, index + 1)
            block.frames.append(_frame(frame_match, source, root))
            continue
        if error is None:
            break
        text = error.group("text") or ""
        exception = EXCEPTION_LINE.match(text.strip()) if block.type is None else None
        if exception is not None:
            block.type = exception.group("type")
            block.value_lines = [exception.group("value") or ""]
        elif block.type is not None:
            block.value_lines.append(text)
        index += 1
    while len(block.value_lines) > 1 and not block.value_lines[-1].strip():
        block.value_lines.pop()
    return block, index


def _source_line(lines: list[str], index: int) -> tuple[str | None, int]:
    """The source line printed under a frame, skipping the caret lines 3.11+ adds."""
    source = None
    while index < len(lines):
        line = lines[index]
        if FRAME_LINE.match(line) or not line.startswith(("    ", "\t")):
            break
        if MARKER_LINE.match(line) or line.strip().startswith("[Previous line repeated"):
            index += 1
            continue
        if source is None:
            source = line.strip()
        index += 1
    return source, index


def _ends_message(line: str) -> bool:
    stripped = line.strip()
    return (
        stripped.endswith(TRACEBACK_START)
        or stripped in CHAIN_SEPARATORS
        or bool(THREAD_HEADER.search(stripped))
        or bool(IGNORED_HEADER.match(stripped))
        or bool(PYTEST_SECTION.match(line))
    )


def _exception_info(block: _Block) -> ExceptionInfo:
    assert block.type is not None
    module, _, name = block.type.rpartition(".")
    return ExceptionInfo(
        type=name,
        value="\n".join(block.value_lines),
        module=module or None,
        frames=_without_harness(block.frames),
        mechanism="stderr",
        handled=False,
    )


def _frame(match: re.Match[str], source: str | None, root: str | None) -> Frame:
    path = match.group("path")
    lineno = int(match.group("lineno"))
    function = match.group("function") or "<unknown>"
    if path.startswith("<"):
        return Frame(filename=path, function=function, lineno=lineno, context_line=source)
    abs_path = path if os.path.isabs(path) else os.path.normpath(os.path.join(root or "", path))
    in_app, filename = classify(abs_path, root)
    context = _file_context(abs_path, lineno, source)
    return Frame(
        filename=filename,
        function=function,
        lineno=lineno,
        abs_path=abs_path,
        in_app=in_app,
        context_line=context[0],
        pre_context=context[1],
        post_context=context[2],
    )


def _without_harness(frames: list[Frame]) -> tuple[Frame, ...]:
    """``frames`` without the pytest and pluggy frames on top, unless that is all there is."""
    for index, frame in enumerate(frames):
        parts = frame.filename.replace(os.sep, "/").split("/")
        if not HARNESS_PACKAGES.intersection(parts):
            return tuple(frames[index:])
    return tuple(frames)


def classify(abs_path: str, root: str | None) -> tuple[bool, str]:
    """Whether a path is project code, and the name to show: relative if so, else absolute.

    The same rules as the hook's, read from the path alone: under the project root, and not in
    site-packages, the standard library or a virtualenv.
    """
    posix = abs_path.replace(os.sep, "/")
    parts = posix.split("/")
    if LIBRARY_PARTS.intersection(parts) or STDLIB_PATH.search(posix):
        return False, abs_path
    if root is None:
        return True, abs_path
    real = os.path.realpath(abs_path)
    for candidate in (abs_path, real):
        if candidate == root or candidate.startswith(root.rstrip(os.sep) + os.sep):
            relative = os.path.relpath(candidate, root)
            if inside_venv(os.path.dirname(candidate), root):
                return False, abs_path
            return True, relative.replace(os.sep, "/")
    return False, abs_path


def _file_context(
    abs_path: str, lineno: int, printed: str | None
) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """The line and its neighbours from disk, if the file still holds the printed line."""
    lines = linecache.getlines(abs_path)
    if (
        not lines
        or lineno > len(lines)
        or (printed is not None and lines[lineno - 1].strip() != printed)
    ):
        return printed, (), ()
    index = lineno - 1
    clean = [line.rstrip("\r\n") for line in lines]
    return (
        clean[index],
        tuple(clean[max(0, index - CONTEXT_LINES) : index]),
        tuple(clean[index + 1 : index + 1 + CONTEXT_LINES]),
    )
