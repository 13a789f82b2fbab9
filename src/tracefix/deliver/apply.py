"""Write a verified fix into the user's work tree: all files or none, never over newer edits.

Each file is written to a temporary file beside it and moved into place with ``os.replace``, so
an editor, a test watcher or a crash never sees half a file. A file is written only if it still
holds exactly the text the fix was computed from; line endings and the file mode are kept.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from pathlib import PurePosixPath

from tracefix.errors import DeliveryError
from tracefix.git import git
from tracefix.patch import FileChange


def dirty_paths(repo_root: Path, paths: Sequence[str]) -> list[str]:
    """The ``paths`` that have uncommitted changes (staged or not) or are untracked."""
    result = git(
        "status",
        "--porcelain=v1",
        "-z",
        "--no-renames",
        "--untracked-files=all",
        cwd=repo_root,
        check=False,
    )
    if not result.ok:
        raise DeliveryError(f"git status failed in {repo_root}: {result.stderr.strip()}")
    dirty = {entry[3:] for entry in result.stdout.split("\0") if len(entry) > 3}
    return [path for path in paths if _posix(path) in dirty]


def apply_changes(repo_root: Path, changes: Sequence[FileChange]) -> None:
    """Write every change, or none: ``DeliveryError`` if any file changed since it was read."""
    planned = [_plan(Path(repo_root).resolve(), change) for change in changes]
    written: list[_Write] = []
    try:
        for write in planned:
            write_atomically(write.target, write.data, mode=write.mode)
            written.append(write)
    except OSError as exc:
        _undo(written)
        raise DeliveryError(f"cannot write {exc.filename or 'the fix'}: {exc.strerror}") from exc
    except BaseException:
        _undo(written)
        raise


@dataclass(frozen=True)
class _Write:
    target: Path
    data: bytes
    mode: int | None
    #: What the file held before (``None``: it did not exist), to undo a half-done delivery.
    original: bytes | None


def _plan(root: Path, change: FileChange) -> _Write:
    target = (root / change.path).resolve()
    if not target.is_relative_to(root):
        raise DeliveryError(f"{change.path} is outside the repository; refusing to write it")
    try:
        original = target.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        original = None
    except OSError as exc:
        raise DeliveryError(f"cannot read {change.path}: {exc.strerror}") from exc
    if change.before is None:
        if original is not None:
            raise DeliveryError(
                f"{change.path} appeared since tracefix read the project; run it again"
            )
        return _Write(target, change.after.encode("utf-8"), None, None)
    if original is None or as_text(original) != change.before:
        raise DeliveryError(f"{change.path} changed since tracefix read it; run tracefix again")
    return _Write(
        target, encode_like(change.after, original), target.stat().st_mode & 0o7777, original
    )


def as_text(data: bytes) -> str | None:
    """``data`` as ``Path.read_text`` gives it (UTF-8, universal newlines), or ``None``."""
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None


def encode_like(text: str, original: bytes) -> bytes:
    """``text`` as bytes, with Windows line endings if ``original`` used them."""
    if b"\r\n" in original:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode("utf-8")


def write_atomically(target: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``target`` with ``data`` in one step; ``mode=None`` gives a new file's default."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".tracefix-{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _undo(written: Sequence[_Write]) -> None:
    for write in reversed(written):
        try:
            if write.original is None:
                write.target.unlink(missing_ok=True)
            else:
                write_atomically(write.target, write.original, mode=write.mode)
        except OSError:
            pass


def _posix(path: str) -> str:
    return str(PurePosixPath(path.replace("\\", "/"))).removeprefix("./")
