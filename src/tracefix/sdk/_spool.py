"""Where envelopes wait until the server takes them: a directory on disk, or a list in memory.

The disk spool keeps one envelope per file, exactly the bytes that would be POSTed (minus
``sent_at``, stamped at send time)::

    <time_ns:020d>-<pid>-<seq:08d>-<size>.<category>.env                waiting to be sent
    <time_ns:020d>-<pid>-<seq:08d>-<size>.<category>.env.sending-<pid>  claimed by that process
    .tmp-<pid>-<seq>                                                    being written
    .journal-<pid>-...                                                  a process's journal

A process's events reach the spool through its journal (``_journal``): the transport's thread
moves a record into a spool file when it cannot send it at once, and a scan recovers the journals
of dead processes into spool files.

Names sort by capture time, so the oldest goes first and is evicted first; the size and the
data category live in the name so that scanning and bounding need no ``stat`` and no read.
Client reports (category ``internal``) left by a process at exit count against no bound.

Crash safety: a file gets its final name only by ``os.replace`` after its bytes are written
(and fsynced, unless the spool or the write says not to), so a kill -9 leaves either a complete
file or a ``.tmp-`` file, which the next scan removes once its writer is dead. A write that
skipped the fsync survives the process but not a crash of the machine; if a machine crash
leaves a damaged file, it fails to parse and is dropped and counted, never retried. Claiming is
an atomic rename (or a file born under its claimed name), so of several processes sharing a
directory (gunicorn workers) exactly one sends a file; a claim whose process died (or that is
older than ``stale_after``, for pid namespaces and reused pids) is renamed back on the next
scan. A claimed file is in flight and is not evicted. Delivery is at least once: a kill between
the server's 2xx and the unlink sends that envelope again, and the server drops the repeat by
its ``event_id``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tracefix.sdk._journal import JOURNAL_PREFIX
from tracefix.sdk._journal import LIVE_NAMES
from tracefix.sdk._journal import parse_journal_name
from tracefix.sdk._journal import recover
from tracefix.sdk._journal import recovering_owner
from tracefix.sdk.dsn import Dsn

_SUFFIX = ".env"
REPORTS = "internal"  # the data category of client reports
_CLAIMED = ".sending-"
_TMP = ".tmp-"
MiB = 1024 * 1024
_LOADED_AT = time.time()
logger = logging.getLogger("tracefix.sdk")

Evicted = Callable[[str, int], None]
"""Told ``(category, quantity)`` for envelopes dropped to keep within bounds."""


@dataclass
class Claim:
    """An envelope taken out to be sent; give it back with ``done`` or ``release``."""

    name: str
    category: str
    size: int
    data: bytes
    path: str | None = None
    #: ``(type, category)`` of each item when this process serialised ``data`` itself and it
    #: never left memory: the sender need not parse it again. None: parse before sending.
    items: tuple[tuple[str, str], ...] | None = None


def default_spool_dir(dsn: Dsn | str) -> Path:
    """A per-user cache directory keyed by the DSN: processes sending to the same project share
    it, so what one process left behind the next one sends."""
    key = hashlib.sha256(str(dsn).encode()).hexdigest()[:16]
    if env := os.environ.get("XDG_CACHE_HOME"):
        base = Path(env)
    elif sys.platform == "win32" and (env := os.environ.get("LOCALAPPDATA")):
        base = Path(env)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path.home() / ".cache"
    return base / "tracefix" / "spool" / key


def fallback_spool_dir(dsn: Dsn | str) -> Path:
    """For service users whose home is not writable (``www-data``)."""
    key = hashlib.sha256(str(dsn).encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tracefix-{uid}" / "spool" / key


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) terminates the process there; rely on stale_after
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists and belongs to someone else
    return True


class MemoryOutbox:
    """The outbox when there is no disk spool: bounded, oldest evicted first, lost at exit."""

    durable = False

    def __init__(self, max_events: int, on_evict: Evicted) -> None:
        self.max_events = max(1, max_events)
        self._on_evict = on_evict
        self._items: deque[Claim] = deque()
        self._lock = threading.Lock()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._items)

    def after_fork(self) -> None:
        """In a forked child: what waits belongs to the parent, which sends it."""
        self._lock = threading.Lock()
        self._items = deque()

    def add(
        self,
        data: bytes,
        category: str,
        created_ns: int | None = None,
        items: tuple[tuple[str, str], ...] | None = None,
    ) -> None:
        claim = Claim(f"memory-{next(self._seq)}", category, len(data), data, items=items)
        with self._lock:
            self._items.append(claim)
            evicted = [self._items.popleft() for _ in range(len(self._items) - self.max_events)]
        for claim in evicted:
            self._on_evict(claim.category, 1)

    def claim_next(self, blocked: Callable[[str], bool]) -> Claim | None:
        with self._lock:
            for claim in self._items:
                if not blocked(claim.category):
                    self._items.remove(claim)
                    return claim
        return None

    def done(self, claim: Claim) -> None:
        return None

    def release(self, claim: Claim, *, rotate: bool = False) -> None:
        with self._lock:
            if rotate:
                self._items.append(claim)
            else:
                self._items.appendleft(claim)

    def purge(self, blocked: Callable[[str], bool]) -> dict[str, int]:
        """Drop what waits in a ``blocked`` category; how many, by category."""
        dropped: dict[str, int] = {}
        with self._lock:
            if not self._items:
                return dropped
            kept: deque[Claim] = deque()
            for claim in self._items:
                if blocked(claim.category):
                    dropped[claim.category] = dropped.get(claim.category, 0) + 1
                else:
                    kept.append(claim)
            self._items = kept
        return dropped

    def drain(self) -> list[Claim]:
        """Take everything out (at close: it is lost with the process)."""
        with self._lock:
            items, self._items = list(self._items), deque()
        return items

    def refresh(self) -> None:
        return None


class DiskSpool:
    """The disk spool (see the module docstring). Bounded by ``max_events`` and ``max_bytes``
    across every process using the directory, as far as each process has seen it: counts are
    re-read from the directory on every ``refresh``."""

    durable = True

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_events: int = 10_000,
        max_bytes: int = 50 * MiB,
        on_evict: Evicted,
        stale_after: float = 300.0,
        fsync: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self._dir = str(directory)  # os.path on str: pathlib costs microseconds per call
        self.max_events = max(1, max_events)
        self.max_bytes = max(1, max_bytes)
        self.stale_after = stale_after
        self.fsync = fsync
        self._on_evict = on_evict
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._pending: dict[str, deque[tuple[str, int]]] = {}
        self._count = 0
        self._bytes = 0
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __len__(self) -> int:
        return sum(len(names) for names in self._pending.values())

    def after_fork(self) -> None:
        """In a forked child: the parent's worker may have held the lock at the fork."""
        self._lock = threading.Lock()

    def next_serial(self) -> int:
        """A number no other file of this process's gets: the journal's records take theirs from
        here, to keep their names when they become files."""
        return next(self._seq)

    def add(
        self,
        data: bytes,
        category: str,
        created_ns: int | None = None,
        *,
        sync: bool = True,
        origin: tuple[int, int] | None = None,
    ) -> None:
        """Write ``data`` as a new file: temp file, fsync, atomic rename. Raises OSError.
        ``created_ns`` (when the event was captured) orders the file among the others.
        ``sync=False`` skips the fsync (when the spool fsyncs at all): the file still survives
        a kill of the process, not a crash of the machine.
        ``origin``, the ``(pid, serial)`` of a journal record, names the file as that record's,
        so that writing it twice leaves one file."""
        pid = os.getpid()
        seq = next(self._seq)
        created_ns = time.time_ns() if created_ns is None else created_ns
        name_pid, name_seq = (pid, seq) if origin is None else origin
        name = f"{created_ns:020d}-{name_pid}-{name_seq:08d}-{len(data)}.{category}{_SUFFIX}"
        final = os.path.join(self._dir, name)
        tmp = os.path.join(self._dir, f"{_TMP}{pid}-{seq}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync and sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        # Renames and the index change together, so that a refresh sees both or neither.
        with self._lock:
            try:
                os.replace(tmp, final)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _insert_sorted(self._pending.setdefault(category, deque()), (name, len(data)))
            self._counted(category, 1, len(data))
            evicted = self._evict_locked()
        for evicted_category, quantity in evicted.items():
            self._on_evict(evicted_category, quantity)

    def _counted(self, category: str, count: int, size: int) -> None:
        # Client reports left at exit are tiny and few; they must not push out an event.
        if category != REPORTS:
            self._count += count
            self._bytes += size

    def _evict_locked(self) -> dict[str, int]:
        evicted: dict[str, int] = {}
        while self._count > self.max_events or self._bytes > self.max_bytes:
            heads = [
                (names[0][0], category)
                for category, names in self._pending.items()
                if names and category != REPORTS
            ]
            if not heads:
                break  # the rest is in flight; it leaves soon
            _, category = min(heads)
            name, size = self._pending[category].popleft()
            self._counted(category, -1, -size)
            try:
                os.unlink(os.path.join(self._dir, name))
            except FileNotFoundError:
                continue  # another process sent or evicted it first
            except OSError:
                continue
            evicted[category] = evicted.get(category, 0) + 1
        return evicted

    def claim_next(self, blocked: Callable[[str], bool]) -> Claim | None:
        """Take the oldest envelope of a category not ``blocked``, or None."""
        pid = os.getpid()
        while True:
            with self._lock:
                heads = [
                    (names[0][0], category)
                    for category, names in self._pending.items()
                    if names and not blocked(category)
                ]
                if not heads:
                    return None
                _, category = min(heads)
                name, size = self._pending[category].popleft()
                path = os.path.join(self._dir, f"{name}{_CLAIMED}{pid}")
                try:
                    os.rename(os.path.join(self._dir, name), path)
                except FileNotFoundError:  # another process claimed or evicted it
                    self._counted(category, -1, -size)
                    continue
            try:
                os.utime(path)  # the claim's age, for stale_after
                with open(path, "rb") as file:
                    data = file.read()
            except OSError:
                data = b""  # unreadable: the caller finds it does not parse and drops it
            return Claim(name, category, size, data, path)

    def done(self, claim: Claim) -> None:
        """Delivered, or dropped for good."""
        if claim.path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claim.path)
        with self._lock:
            self._counted(claim.category, -1, -claim.size)

    def release(self, claim: Claim, *, rotate: bool = False) -> None:
        """Not sent this time: back in the directory, in its place by age; with ``rotate`` at
        the end of its category's line instead, so that an envelope the server keeps failing
        on does not hold back the others."""
        if claim.path is None:
            return
        with self._lock:
            try:
                os.rename(claim.path, os.path.join(self._dir, claim.name))
            except FileNotFoundError:
                return  # taken back as a stale claim meanwhile: it is pending already
            names = self._pending.setdefault(claim.category, deque())
            if rotate:
                names.append((claim.name, claim.size))
            else:
                _insert_sorted(names, (claim.name, claim.size))
            evicted = self._evict_locked()  # what was in flight counts again
        for category, quantity in evicted.items():
            self._on_evict(category, quantity)

    def refresh(self) -> None:
        """Re-read the directory: pick up files of other and earlier processes, remove dead
        writers' temp files, take back dead or stale claims, enforce the bounds, and recover
        the journals their writers left (``_journal.recover``)."""
        abandoned: list[str] = []
        with self._lock:
            pid = os.getpid()
            now = time.time()
            pending: dict[str, list[tuple[str, int]]] = {}
            self._count = self._bytes = 0
            for entry in os.listdir(self._dir):
                if entry.startswith(_TMP):
                    self._remove_dead_temp(entry, now)
                    continue
                if entry.startswith(JOURNAL_PREFIX):
                    if self._abandoned_journal(entry, pid, now):
                        abandoned.append(entry)
                    continue
                name, claimed, owner = entry.partition(_CLAIMED)
                parsed = _parse_name(name)
                if parsed is None:
                    continue
                category, size = parsed
                self._counted(category, 1, size)
                if claimed:
                    if not self._stale_claim(entry, owner, pid, now):
                        continue
                    try:
                        os.rename(os.path.join(self._dir, entry), os.path.join(self._dir, name))
                    except OSError:
                        continue
                pending.setdefault(category, []).append((name, size))
            self._pending = {c: deque(sorted(names)) for c, names in pending.items()}
            evicted = self._evict_locked()
        for category, quantity in evicted.items():
            self._on_evict(category, quantity)
        for entry in sorted(abandoned):
            try:
                recover(self._dir, entry, self._restore)
            except OSError:
                logger.debug("tracefix: could not recover the journal %s", entry, exc_info=True)

    def _abandoned_journal(self, entry: str, pid: int, now: float) -> bool:
        """Whether a journal file's writer (or recoverer) is gone: dead, an earlier process
        with this pid, or so long ago that the pid may be another container's."""
        parsed = parse_journal_name(entry)
        if parsed is None:
            return False
        owner, created_ns = parsed
        recoverer = recovering_owner(entry)
        if recoverer is not None:
            return recoverer == pid or not _alive(recoverer)
        if owner == pid:
            return entry not in LIVE_NAMES
        return not _alive(owner) or now - created_ns / 1e9 > self.stale_after

    def _restore(self, data: bytes, created_ns: int, pid: int, serial: int) -> None:
        self.add(data, "error", created_ns, origin=(pid, serial))

    def _remove_dead_temp(self, entry: str, now: float) -> None:
        owner = entry[len(_TMP) :].partition("-")[0]
        path = os.path.join(self._dir, entry)
        try:
            if owner.isdigit() and _alive(int(owner)) and now - os.stat(path).st_mtime < 3600:
                return
            os.unlink(path)
        except OSError:
            pass

    def _stale_claim(self, entry: str, owner: str, pid: int, now: float) -> bool:
        if not owner.isdigit():
            return False
        try:
            claimed_at = os.stat(os.path.join(self._dir, entry)).st_mtime
        except OSError:
            return False
        if int(owner) == pid:
            # A claim made before this module was loaded bearing this pid is an earlier
            # process's: containers start every process as the same pid.
            return claimed_at < _LOADED_AT
        return not _alive(int(owner)) or now - claimed_at > self.stale_after


def _insert_sorted(names: deque[tuple[str, int]], entry: tuple[str, int]) -> None:
    # Writers finish in nearly the order they were captured: the place is at or near the end.
    index = len(names)
    while index and names[index - 1][0] > entry[0]:
        index -= 1
    names.insert(index, entry)


def _parse_name(name: str) -> tuple[str, int] | None:
    """``(category, size)`` of a spool file name, or None for a name the spool did not write."""
    if not name.endswith(_SUFFIX):
        return None
    stem, _, category = name[: -len(_SUFFIX)].rpartition(".")
    parts = stem.split("-")
    if len(parts) != 4 or not category or not all(part.isdigit() for part in parts):
        return None
    return category, int(parts[3])
