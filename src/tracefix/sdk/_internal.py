"""The SDK's safety net and plumbing: what keeps a failure inside tracefix from reaching the app.

Every piece of SDK work done on the app's behalf (a hook, a signal receiver, a log handler)
runs inside ``capture_internal_errors()``: an error there is logged at debug level on the
``tracefix.sdk`` logger and swallowed, so the app carries on exactly as without tracefix.
Tests replace ``report_internal_error`` to turn every swallowed error into a failure
(sentry-python's ``internal_exceptions`` fixture, getsentry/sentry-python tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from types import ModuleType
from types import TracebackType

logger = logging.getLogger("tracefix.sdk")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

#: The module the event builder is loaded as (see ``builder()``).
BUILDER_MODULE = "tracefix.sdk._builder"


def report_internal_error(exc_info: ExcInfo) -> None:
    """Log an error raised inside the SDK. Replaced in tests, so that it fails the test."""
    logger.debug("internal error in tracefix.sdk", exc_info=exc_info)


class _InternalErrors:
    """The context manager behind ``capture_internal_errors()``: stateless, so one is shared.

    It swallows ``Exception`` only: a ``KeyboardInterrupt`` during SDK work is the user's.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None or exc is None or not isinstance(exc, Exception):
            return False
        try:
            report_internal_error((exc_type, exc, tb))
        except Exception:  # a broken logging setup must not escape either
            pass
        return True


_INTERNAL_ERRORS = _InternalErrors()


def capture_internal_errors() -> _InternalErrors:
    """``with capture_internal_errors(): ...``: run SDK work that must never reach the app."""
    return _INTERNAL_ERRORS


def load_builder() -> ModuleType:
    """The event builder that ``tracefix run``'s capture hook uses, loaded on its own.

    It is one file, written to run without tracefix installed. Importing it through its
    package would first import ``tracefix.capture`` (the runner, 50 ms); loading the file alone
    costs 1 ms and keeps one builder for both ways of capturing.
    """
    module = sys.modules.get(BUILDER_MODULE)
    if module is None:
        path = os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "capture",
            "_hook",
            "tracefix_capture.py",
        )
        spec = importlib.util.spec_from_file_location(BUILDER_MODULE, path)
        if spec is None or spec.loader is None:  # pragma: no cover - the file ships with us
            raise ImportError(f"cannot load the event builder from {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[BUILDER_MODULE] = module
    return module


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def git_toplevel(start: str) -> str | None:
    """The closest folder at or above ``start`` holding ``.git`` (a folder, or a worktree's
    file)."""
    directory = os.path.realpath(start)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def git_head(root: str) -> str | None:
    """The commit checked out at ``root``, read from ``.git`` without running git.

    Production images often ship a checkout with no git binary; and a subprocess at ``init``
    forks a process that may be large. ``git rev-parse HEAD`` is the fallback for layouts the
    files do not resolve (a reftable repository).
    """
    git_dir = os.path.join(root, ".git")
    if os.path.isfile(git_dir):  # a worktree or submodule: "gitdir: <path>"
        pointer = _read(git_dir) or ""
        if not pointer.startswith("gitdir:"):
            return None
        git_dir = os.path.join(root, pointer[len("gitdir:") :].strip())
    head = _read(os.path.join(git_dir, "HEAD"))
    if head is None:
        return None
    if not head.startswith("ref:"):
        return head if _is_sha(head) else None
    ref = head[len("ref:") :].strip()
    common = _read(os.path.join(git_dir, "commondir"))
    common_dir = os.path.join(git_dir, common) if common else git_dir
    for directory in dict.fromkeys((git_dir, common_dir)):
        value = _read(os.path.join(directory, ref))
        if value is not None and _is_sha(value):
            return value
    packed = _read(os.path.join(common_dir, "packed-refs")) or ""
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == ref and _is_sha(sha):
            return sha
    return _git_rev_parse(root)


def _git_rev_parse(root: str) -> str | None:
    import subprocess

    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = result.stdout.strip()
    return value if result.returncode == 0 and _is_sha(value) else None


def _is_sha(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


def enable_debug_logging() -> None:
    """``init(debug=True)``: the SDK's own log, at debug level, on stderr."""
    if any(getattr(h, "_tracefix_debug", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[tracefix] %(levelname)s: %(message)s"))
    handler._tracefix_debug = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
