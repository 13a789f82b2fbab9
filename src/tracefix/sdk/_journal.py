"""The journal: where a serialised event waits from ``capture_event`` until the transport's
thread has sent it or moved it into the spool.

Each process appends to files of its own in the spool directory::

    .journal-<pid>-<created_ns:020d>-<n>                     being written, or read by its process
    .journal-<pid>-<created_ns:020d>-<n>.recovering-<pid2>   being recovered by process pid2

A file is ``FILE_BYTES`` long, allocated full of zeros, and memory-mapped for as long as it is
in use. The app's thread appends a record by copying it into the mapping: no system call,
so no moment where it releases the GIL. That matters in a burst of errors: every system call on
the app's thread (the five of writing a spool file, say) lets the SDK's thread take the GIL,
and a busy SDK thread keeps it for up to the switch interval (5 ms) while the app waits.

Once copied, a record is in the kernel's page cache: a kill -9 of the process does not lose it,
a crash of the machine may (as for a spool file written without fsync). The thread moves a
record into a spool file (fsynced) whenever it cannot send it at once.

A record is a header, ``RECORD`` (state, kind, length, CRC-32, capture time, serial number),
then the payload: ``EVENT``, the DSN and the event dict in ``marshal``'s format, which the app's
thread writes in a third of the time JSON takes (the transport's thread makes the envelope when
it sends or moves the record), or ``ENVELOPE``, the envelope as a spool file would hold it, for
an event ``marshal`` cannot hold (a value ``before_send`` added). The state byte is written last:
``WAITING``, then ``TAKEN`` once the record was sent, moved into the spool or dropped. A zero
state byte ends the file, and so does a record whose length or CRC is wrong: the process died
while copying it, before ``capture_event`` returned.

Recovery: the spool's scan hands a journal whose writer is gone (a dead pid, an earlier process
with this pid, or a file older than ``stale_after``) to ``recover``, which claims it by renaming
it, writes each waiting record as a spool file and deletes it. A record's spool file name is
made from the journal's pid and the record's capture time and serial number, the name the
writer would have given it: a record moved into the spool just before the kill, not yet marked
``TAKEN``, is written again under the same name, not duplicated. Delivery stays at least once:
a record sent just before a kill, not yet marked, is sent again, and the server drops the
repeat by its ``event_id``.
"""

from __future__ import annotations

import contextlib
import marshal
import mmap
import os
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracefix.sdk.envelope import serialize_event

JOURNAL_PREFIX = ".journal-"
RECOVERING = ".recovering-"
FILE_BYTES = 1024 * 1024
#: state, kind, 2 bytes of padding, payload length, CRC-32, capture time (ns), serial number.
RECORD = struct.Struct("<BBxxIIqq")
#: The fields the CRC covers with the payload.
_CHECKED = struct.Struct("<BIqq")
WAITING = 1
TAKEN = 2
#: Payload kinds (see the module docstring).
ENVELOPE = 0
EVENT = 1
#: How much the reader copies out of a file at a time: records come in batches.
_READ_AHEAD = 64 * 1024

_DONTNEED: int | None = getattr(mmap, "MADV_DONTNEED", None)
_CAN_RESERVE = hasattr(os, "posix_fallocate")
#: A file appended to for longer than this is retired at the next append: a live process's
#: journal files stay young, and only an abandoned one grows old (see ``stale_after``).
MAX_FILE_AGE_NS = 60 * 1_000_000_000
#: The names of this process's journal files, for the spool's scans (of every transport in the
#: process) to leave alone.
LIVE_NAMES: set[str] = set()

Dropped = Callable[[int], None]
"""Told how many waiting events a full journal dropped (the oldest first)."""


@dataclass
class JournalRecord:
    """A record read from a journal, to be sent or moved; ``Journal.done`` marks it taken."""

    data: bytes
    kind: int
    created_ns: int
    serial: int
    pid: int
    file: _JournalFile
    offset: int

    def envelope(self) -> bytes:
        """The envelope to send. Raises ``ValueError`` for a payload that will not make one."""
        return to_envelope(self.data, self.kind)


class _JournalFile:
    """One journal file, mapped for its whole life. Its counters change under the journal's
    lock: ``end``, where the next record goes; ``read``, where the reader is; ``appended``,
    ``read_count`` (records copied out by the reader) and ``done``."""

    def __init__(self, path: str, name: str, mapping: mmap.mmap, pid: int, created_ns: int) -> None:
        self.path = path
        self.name = name
        self.map = mapping
        self.pid = pid
        self.created_ns = created_ns
        self.end = 0
        self.read = 0
        self.appended = 0
        self.read_count = 0
        self.done = 0
        #: No more appends: full, or the journal closed or went idle.
        self.retired = False
        #: Deleted: finished, or dropped to keep within bounds.
        self.removed = False


class Journal:
    """The journal files of this process (see the module docstring).

    ``append`` is the app's side; ``take`` and ``done`` the readers' (the
    transport's thread, and a caller of ``close`` moving records into the spool). Under the lock
    a reader touches nothing but memory, so the app's thread never waits for a reader's system
    call. At most ``max_files`` files exist: a full
    journal drops its oldest file's waiting records (``on_drop``), as a full spool evicts its
    oldest.
    """

    def __init__(
        self,
        directory: str,
        *,
        serials: Callable[[], int],
        on_drop: Dropped,
        max_files: int = 50,
        file_bytes: int = FILE_BYTES,
    ) -> None:
        self.directory = directory
        self.file_bytes = file_bytes
        self.max_files = max(2, max_files)
        self._serials = serials
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._files: deque[_JournalFile] = deque()
        self._active: _JournalFile | None = None
        self._waiting = 0
        self._closed = False
        self._made = 0
        #: Records read ahead by the reader and not yet taken: still WAITING in their file.
        self._ahead: deque[JournalRecord] = deque()
        #: Files retired or removed under the lock, whose system calls (``madvise``, ``munmap``,
        #: ``unlink``) wait for ``_release``, outside it.
        self._released: list[_JournalFile] = []

    def __len__(self) -> int:
        """Records appended and not yet taken."""
        return self._waiting

    # -- the app's side -------------------------------------------------------------------------

    def append(self, data: bytes, created_ns: int, kind: int = ENVELOPE) -> bool:
        """Copy one record in; False when it cannot be (too big for a file, the journal closed,
        a file could not be made, a platform without ``posix_fallocate``, macOS): the caller
        keeps the event some other way."""
        size = RECORD.size + len(data)
        if size > self.file_bytes or not _CAN_RESERVE:
            return False
        serial = self._serials()
        crc = zlib.crc32(data, zlib.crc32(_CHECKED.pack(kind, len(data), created_ns, serial)))
        header = RECORD.pack(0, kind, len(data), crc, created_ns, serial)
        dropped = 0
        started = False
        with self._lock:
            if self._closed:
                return False
            active = self._active
            if (
                active is None
                or active.end + size > self.file_bytes
                or created_ns - active.created_ns > MAX_FILE_AGE_NS
            ):
                active = self._start_file_locked()
                if active is None:
                    return False
                started = True
                dropped = self._keep_bounds_locked()
            mapping = active.map
            offset = active.end
            mapping[offset + 1 : offset + RECORD.size] = header[1:]
            mapping[offset + RECORD.size : offset + size] = data
            mapping[offset] = WAITING
            active.end = offset + size
            active.appended += 1
            self._waiting += 1
        if started:
            self._release()
        if dropped:
            self._on_drop(dropped)
        return True

    def _start_file_locked(self) -> _JournalFile | None:
        """Retire the active file and make a new one: a few system calls per ``file_bytes``,
        the only ones on the app's side."""
        if self._active is not None:
            self._retire_locked(self._active)
        pid = os.getpid()
        self._made += 1
        created_ns = time.time_ns()
        name = f"{JOURNAL_PREFIX}{pid}-{created_ns:020d}-{self._made}"
        path = os.path.join(self.directory, name)
        LIVE_NAMES.add(name)  # before the file exists: a scan must never take it for a dead one
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError:
            LIVE_NAMES.discard(name)
            return None
        try:
            # Blocks reserved now, not as pages are first written: on a full disk a write to
            # a mapped page without its block kills the process (SIGBUS), here it fails.
            os.posix_fallocate(fd, 0, self.file_bytes)
            mapping = mmap.mmap(fd, self.file_bytes)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(path)
            LIVE_NAMES.discard(name)
            return None
        finally:
            os.close(fd)  # the mapping keeps its own
        journal_file = _JournalFile(path, name, mapping, pid, created_ns)
        self._files.append(journal_file)
        self._active = journal_file
        return journal_file

    def _retire_locked(self, journal_file: _JournalFile) -> None:
        """No more appends to it. ``_release`` then drops its pages from the process's RSS
        (they stay in the page cache: a shared mapping's data is the file's), so that only the
        file appended to and the one being read count."""
        journal_file.retired = True
        if self._active is journal_file:
            self._active = None
        if journal_file.done == journal_file.appended:
            self._remove_locked(journal_file)
        else:
            self._released.append(journal_file)

    def _keep_bounds_locked(self) -> int:
        """Drop the oldest files while there are more than ``max_files``; the number of records
        lost with them (those the reader copied out already go on)."""
        dropped = 0
        while len(self._files) > self.max_files:
            oldest = self._files[0]
            lost = oldest.appended - oldest.read_count
            dropped += lost
            self._waiting -= lost
            self._remove_locked(oldest)
        return dropped

    def _remove_locked(self, journal_file: _JournalFile) -> None:
        """Out of the journal: nobody touches its mapping again but ``_release``."""
        journal_file.removed = True
        with contextlib.suppress(ValueError):
            self._files.remove(journal_file)
        if self._active is journal_file:
            self._active = None
        self._released.append(journal_file)

    def _release(self) -> None:
        """The system calls of retiring and removing files, outside the lock: the app's thread
        must never wait on it while a reader's system call lets another thread run."""
        with self._lock:
            released, self._released = self._released, []
            advise = [f for f in released if not f.removed]
        for journal_file in released:
            if journal_file.removed:
                with contextlib.suppress(Exception):
                    journal_file.map.close()
                with contextlib.suppress(OSError):
                    os.unlink(journal_file.path)
                LIVE_NAMES.discard(journal_file.name)
        for journal_file in advise:
            if _DONTNEED is not None:
                with contextlib.suppress(OSError, ValueError):
                    journal_file.map.madvise(_DONTNEED)

    # -- the reader's side ----------------------------------------------------------------------

    def take(self) -> JournalRecord | None:
        """The oldest waiting record, or None."""
        with self._lock:
            if not self._ahead:
                self._read_ahead_locked()
            if not self._ahead:
                return None
            self._waiting -= 1
            return self._ahead.popleft()

    def _read_ahead_locked(self) -> None:
        """Copy the next complete records of the oldest file with any out of its mapping (a
        memory copy: no system call under the lock)."""
        target = next((f for f in self._files if f.read < f.end), None)
        if target is None:
            return
        mapping, position, end = target.map, target.read, target.end
        limit = position + _READ_AHEAD
        while position < end and (position < limit or not self._ahead):
            state, kind, length, _crc, created_ns, serial = RECORD.unpack_from(mapping, position)
            payload_start = position + RECORD.size
            if state == WAITING:
                data = mapping[payload_start : payload_start + length]
                self._ahead.append(
                    JournalRecord(data, kind, created_ns, serial, target.pid, target, position)
                )
                target.read_count += 1
            position = payload_start + length
        target.read = position

    def done(self, record: JournalRecord) -> None:
        """The record was sent, moved into the spool or dropped: mark it so, and delete its file
        once every record in it is done and it takes no more."""
        journal_file = record.file
        with self._lock:
            if journal_file.removed:
                return
            journal_file.map[record.offset] = TAKEN
            journal_file.done += 1
            if journal_file.retired and journal_file.done == journal_file.appended:
                self._remove_locked(journal_file)
        self._release()

    def retire_if_done(self) -> None:
        """Delete the active file when every record in it is done: an idle process leaves no
        file behind, and makes a new one at its next event."""
        with self._lock:
            active = self._active
            if active is not None and active.done == active.appended:
                self._retire_locked(active)
        self._release()

    def close(self) -> None:
        """No more appends; the files go once their records are done."""
        with self._lock:
            self._closed = True
            if self._active is not None:
                self._retire_locked(self._active)
        self._release()

    def after_fork(self) -> None:
        """In a forked child: the files are the parent's, which reads them; start afresh."""
        for journal_file in self._files:
            with contextlib.suppress(Exception):
                journal_file.map.close()
        self._lock = threading.Lock()
        self._files = deque()
        self._active = None
        self._waiting = 0
        self._ahead = deque()
        self._released = []
        LIVE_NAMES.clear()


@dataclass
class RecoveredRecord:
    data: bytes
    kind: int
    created_ns: int
    serial: int
    waiting: bool

    def envelope(self) -> bytes:
        return to_envelope(self.data, self.kind)


def to_envelope(payload: bytes, kind: int) -> bytes:
    """The envelope a record's payload stands for. Raises ``ValueError`` when there is none (a
    kind this version does not know, a payload that does not load)."""
    if kind == ENVELOPE:
        return payload
    if kind != EVENT:
        raise ValueError(f"unknown journal record kind {kind}")
    try:
        dsn, event = marshal.loads(payload)
        return serialize_event(event, event["event_id"], dsn)
    except (EOFError, TypeError, KeyError, RecursionError) as exc:
        raise ValueError(f"a journal record that makes no envelope: {exc!r}") from None


def event_payload(event: dict[str, Any], dsn: str) -> bytes:
    """An ``EVENT`` payload. Raises ``ValueError`` for an event ``marshal`` cannot hold."""
    return marshal.dumps((dsn, event))


def read_records(data: bytes) -> list[RecoveredRecord]:
    """The complete records of a journal file's bytes, up to its end or its torn tail."""
    records = []
    position = 0
    while position + RECORD.size <= len(data):
        state, kind, length, crc, created_ns, serial = RECORD.unpack_from(data, position)
        if state not in (WAITING, TAKEN):
            break
        payload_start = position + RECORD.size
        payload = data[payload_start : payload_start + length]
        if len(payload) != length:
            break
        checked = _CHECKED.pack(kind, length, created_ns, serial)
        if zlib.crc32(payload, zlib.crc32(checked)) != crc:
            break
        records.append(RecoveredRecord(payload, kind, created_ns, serial, state == WAITING))
        position = payload_start + length
    return records


def parse_journal_name(name: str) -> tuple[int, int] | None:
    """``(pid, created_ns)`` of a journal file's name (recovering or not), or None."""
    if not name.startswith(JOURNAL_PREFIX):
        return None
    parts = name[len(JOURNAL_PREFIX) :].partition(RECOVERING)[0].split("-")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def recovering_owner(name: str) -> int | None:
    """The pid recovering a journal file, from its name; None when nobody is."""
    owner = name.partition(RECOVERING)[2]
    return int(owner) if owner.isdigit() else None


Restore = Callable[[bytes, int, int, int], None]
"""Writes one recovered record as a spool file: ``(envelope, created_ns, pid, serial)``."""

#: Journal files this process is recovering now (two transports may share a directory).
_recovering_here: set[str] = set()
_recovering_lock = threading.Lock()


def recover(directory: str, name: str, restore: Restore) -> int | None:
    """Claim the journal file ``name`` by renaming it, restore each waiting record, delete it.
    The number of records restored; None when someone else claimed it first. Raises OSError
    when a record cannot be restored: the file stays, for a later scan.

    A file another user owns is deleted unread: ``marshal`` is not meant for data someone else
    may have made (a spool directory under /tmp that another user created first)."""
    parsed = parse_journal_name(name)
    if parsed is None:
        return None
    base = name.partition(RECOVERING)[0]
    with _recovering_lock:
        if base in _recovering_here:
            return None
        _recovering_here.add(base)
    try:
        claimed = f"{base}{RECOVERING}{os.getpid()}"
        path = os.path.join(directory, claimed)
        try:
            os.rename(os.path.join(directory, name), path)
        except FileNotFoundError:
            return None
        with open(path, "rb") as file:
            if hasattr(os, "getuid") and os.fstat(file.fileno()).st_uid != os.getuid():
                os.unlink(path)
                return 0
            data = file.read()
        restored = 0
        for record in read_records(data):
            if not record.waiting:
                continue
            try:
                envelope = record.envelope()
            except ValueError:
                continue  # from another version of this SDK, or damaged: nothing to send
            restore(envelope, record.created_ns, parsed[0], record.serial)
            restored += 1
        os.unlink(path)
        return restored
    finally:
        with _recovering_lock:
            _recovering_here.discard(base)
