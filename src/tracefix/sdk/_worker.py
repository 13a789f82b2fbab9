"""The transport's background thread and its tools: the keep-alive connection, back-off, rate
limits and client reports.

The thread's loop: write every queued event to the outbox (the disk spool, or memory), then
send the oldest envelope it may send, one POST at a time over one connection: first what waits
in memory and in the spool (older), then the journal's records, straight from it. While the
server is down or rate-limits, the journal's records are moved into the spool, envelopes wait
there and the thread sleeps until the back-off or the limit ends. Nothing here raises into the
host: failures are logged at debug level.
"""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import gzip
import http.client
import logging
import os
import random
import socket
import ssl
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from tracefix.sdk._journal import ENVELOPE
from tracefix.sdk._journal import EVENT
from tracefix.sdk._journal import FILE_BYTES
from tracefix.sdk._journal import Journal
from tracefix.sdk._journal import JournalRecord
from tracefix.sdk._journal import event_payload
from tracefix.sdk._spool import REPORTS
from tracefix.sdk._spool import Claim
from tracefix.sdk._spool import DiskSpool
from tracefix.sdk._spool import MemoryOutbox
from tracefix.sdk.dsn import CLIENT
from tracefix.sdk.dsn import Dsn
from tracefix.sdk.envelope import EnvelopeError
from tracefix.sdk.envelope import client_report
from tracefix.sdk.envelope import parse_envelope
from tracefix.sdk.envelope import serialize_envelope
from tracefix.sdk.envelope import serialize_event
from tracefix.sdk.envelope import serialize_item
from tracefix.sdk.envelope import with_sent_at

logger = logging.getLogger("tracefix.sdk")

#: The items of an envelope ``Worker`` serialised: one event.
_EVENT_ITEMS = (("event", "error"),)
#: How many journal records the thread moves into the spool before it looks around again.
_MOVE_BATCH = 64


@dataclass
class TransportStats:
    """Counters for tests and benchmarks; ``dropped`` is keyed by ``(reason, category)``."""

    queued: int = 0
    spooled: int = 0
    sent: int = 0
    posts: int = 0
    connections: int = 0
    failures: int = 0
    dropped: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class JournalClaim(Claim):
    """A journal record taken out to be sent."""

    record: JournalRecord | None = None


class JournalOutbox:
    """The journal as an outbox: a record is sent straight from it, and one that cannot be sent
    now (a failure, a rate limit) is moved into the spool, where it waits its turn by age."""

    durable = True

    def __init__(
        self,
        journal: Journal,
        spool: DiskSpool,
        fallback: MemoryOutbox,
        stats: TransportStats,
        on_lost: Callable[[str, str, int], None],
    ) -> None:
        self.journal = journal
        self.spool = spool
        self.fallback = fallback
        self.stats = stats
        self.on_lost = on_lost

    def __len__(self) -> int:
        return len(self.journal)

    def claim_next(self, blocked: Callable[[str], bool]) -> Claim | None:
        if blocked("error"):
            return None
        while (record := self.journal.take()) is not None:
            envelope = self._envelope(record)
            if envelope is not None:
                return JournalClaim(
                    spool_name(record, envelope),
                    "error",
                    len(envelope),
                    envelope,
                    items=_EVENT_ITEMS,
                    record=record,
                )
        return None

    def _envelope(self, record: JournalRecord) -> bytes | None:
        """The record's envelope; None (the record done, the loss counted) if it makes none."""
        try:
            return record.envelope()
        except ValueError:
            logger.debug("tracefix: could not serialise an event", exc_info=True)
            self.journal.done(record)
            self.on_lost("internal_sdk_error", "error", 1)
            return None

    def done(self, claim: Claim) -> None:
        if isinstance(claim, JournalClaim) and claim.record is not None:
            self.journal.done(claim.record)

    def release(self, claim: Claim, *, rotate: bool = False) -> None:
        if isinstance(claim, JournalClaim) and claim.record is not None:
            self.move(claim.record, claim.data)

    def move(
        self, record: JournalRecord, envelope: bytes | None = None, *, sync: bool = True
    ) -> None:
        """Into the spool, under the name its journal record gives it; into memory if the spool
        fails (the disk is full), rather than retry the disk for ever."""
        if envelope is None:
            envelope = self._envelope(record)
            if envelope is None:
                return
        try:
            self.spool.add(
                envelope,
                "error",
                record.created_ns,
                sync=sync,
                origin=(record.pid, record.serial),
            )
            self.stats.spooled += 1
        except OSError:
            logger.debug("tracefix: could not move a journal record to the spool", exc_info=True)
            self.fallback.add(envelope, "error", items=_EVENT_ITEMS)
        self.journal.done(record)

    def move_waiting(
        self, limit: int | None = None, deadline: float | None = None, *, sync: bool = True
    ) -> int:
        """Move up to ``limit`` waiting records (all without), until ``deadline``
        (``time.monotonic``); how many."""
        moved = 0
        while limit is None or moved < limit:
            if deadline is not None and time.monotonic() >= deadline:
                break
            record = self.journal.take()
            if record is None:
                break
            self.move(record, sync=sync)
            moved += 1
        return moved

    def refresh(self) -> None:
        return None


def spool_name(record: JournalRecord, envelope: bytes) -> str:
    """The name the record's spool file gets (``DiskSpool.add`` with its ``origin``)."""
    return f"{record.created_ns:020d}-{record.pid}-{record.serial:08d}-{len(envelope)}.error.env"


Outbox = MemoryOutbox | DiskSpool | JournalOutbox


class NetworkError(Exception):
    """The POST got no HTTP response."""


@dataclass
class Response:
    status: int
    retry_after: str | None = None
    rate_limits: str | None = None


class Connection:
    """One keep-alive HTTP(S) connection to the DSN's host, opened again after any failure.

    One connection for the life of the process: a client per event costs 21-30 ms of CPU here
    (bugstack's, measured in docs/sdk-overhead-peers.md). The request goes out in one
    ``sendall`` (``http.client`` sends the head and the body apart: a second segment and a
    second wake-up of the server for every event). The answer is read by ``read_response``, not
    ``http.client.HTTPResponse``, whose ``email``-based header parsing cost the thread about
    40 µs of CPU per event, a third of its HTTP work."""

    def __init__(self, dsn: Dsn, connect_timeout: float, read_timeout: float) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.opened = 0
        self._sock: socket.socket | None = None
        self._ssl: ssl.SSLContext | None = None
        self._head = (
            f"POST {dsn.envelope_path} HTTP/1.1\r\n"
            f"Host: {dsn.netloc}\r\n"
            "Content-Type: application/x-sentry-envelope\r\n"
            "Content-Encoding: gzip\r\n"
            f"X-Sentry-Auth: {dsn.auth_header()}\r\n"
            f"User-Agent: {CLIENT}\r\n"
            "Content-Length: "
        ).encode()

    def post(self, body: bytes) -> Response:
        reused = self._sock is not None
        try:
            return self._post_once(body)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            if not reused or isinstance(exc, TimeoutError):
                raise NetworkError(f"{type(exc).__name__}: {exc}") from exc
        # The server may have closed the idle keep-alive connection: once more on a fresh one.
        try:
            return self._post_once(body)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc

    def _post_once(self, body: bytes) -> Response:
        sock = self._sock or self._open()
        sock.sendall(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        response, will_close = read_response(sock)
        if will_close:
            self.close()
        return response

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.dsn.host, self.dsn.port), self.connect_timeout)
        try:
            # Without it a delayed ACK stalls each small POST by 40 ms (sdk-overhead-peers.md).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.dsn.scheme == "https":
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()  # milliseconds: once per process
                sock = self._ssl.wrap_socket(sock, server_hostname=self.dsn.host)
            sock.settimeout(self.read_timeout)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.opened += 1
        return sock

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def forget(self) -> None:
        """In a forked child: the socket is the parent's; drop it without touching it."""
        self._sock = None


#: A response head longer than this is not a Sentry server's: the connection is dropped.
MAX_HEAD = 65536


def read_response(sock: socket.socket) -> tuple[Response, bool]:
    """Read one HTTP/1.x response to a POST off ``sock``: the response, and whether the
    connection must be closed after it. Skips ``1xx`` answers; reads the body (by
    ``Content-Length``, chunked, or up to the close) and throws it away. Raises ``OSError``
    when the connection ends early, ``http.client.HTTPException`` on a malformed answer."""
    reader = _Reader(sock)
    while True:
        head = reader.head()
        status_line, _, header_block = head.partition(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(status_line.decode("latin-1")[:100])
        status = int(code)
        headers: dict[str, str] = {}
        for line in header_block.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon:
                continue
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        if status >= 200:
            break
    connection = headers.get("connection", "").lower()
    will_close = "close" in connection or (
        version == b"HTTP/1.0" and "keep-alive" not in connection
    )
    if status in (204, 304):
        pass
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        reader.chunked()
    elif (length := headers.get("content-length")) is not None:
        if not length.isdigit():
            raise http.client.HTTPException(f"bad Content-Length {length[:40]!r}")
        reader.exactly(int(length))
    else:
        reader.to_end()
        will_close = True
    will_close = will_close or reader.leftover()
    response = Response(status, headers.get("retry-after"), headers.get("x-sentry-rate-limits"))
    return response, will_close


class _Reader:
    """Buffered reads off a socket, for ``read_response``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def _fill(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        self._buf += data

    def head(self) -> bytes:
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            if len(self._buf) > MAX_HEAD:
                raise http.client.LineTooLong("response head")
            self._fill()
        head, self._buf = self._buf[:end], self._buf[end + 4 :]
        return head

    def line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            if len(self._buf) > MAX_HEAD:
                raise http.client.LineTooLong("chunk line")
            self._fill()
        line, self._buf = self._buf[:end], self._buf[end + 2 :]
        return line

    def exactly(self, size: int) -> None:
        while len(self._buf) < size:
            size -= len(self._buf)
            self._buf = b""
            self._fill()
        self._buf = self._buf[size:]

    def chunked(self) -> None:
        while True:
            size_text = self.line().partition(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise http.client.HTTPException("bad chunk size") from None
            if size == 0:
                while self.line():  # trailers, up to the empty line
                    pass
                return
            self.exactly(size + 2)  # the chunk and its CRLF

    def to_end(self) -> None:
        self._buf = b""
        while self._sock.recv(65536):
            pass

    def leftover(self) -> bool:
        """Bytes past the response: nothing was asked for them, so the stream is out of step."""
        return bool(self._buf)


def parse_retry_after(value: str | None, now: float | None = None, default: float = 60.0) -> float:
    """Seconds to wait from a ``Retry-After`` header: seconds, or an HTTP date."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return default
    return max(0.0, when - (time.time() if now is None else now))


def parse_rate_limits(header: str) -> dict[str | None, float]:
    """Seconds per data category (``None``: every category) from ``X-Sentry-Rate-Limits``:
    ``retry_after:categories:scope:reason_code:...`` joined by commas; unknown fields ignored
    (develop.sentry.dev/sdk/expected-features/rate-limiting/)."""
    limits: dict[str | None, float] = {}
    for quota in header.split(","):
        fields = quota.strip().split(":")
        if len(fields) < 2:
            continue
        try:
            seconds = float(fields[0].strip())
        except ValueError:
            continue
        categories: list[str | None] = [c.strip() for c in fields[1].split(";") if c.strip()]
        for category in categories or [None]:
            limits[category] = max(limits.get(category, 0.0), seconds)
    return limits


class RateLimits:
    """Until when (monotonic) each data category may not be sent."""

    def __init__(self) -> None:
        self._until: dict[str | None, float] = {}

    def update(self, response: Response, now: float) -> bool:
        """Take in the limits a response announces; True when it announced any."""
        if response.rate_limits:
            # The detailed header wins over Retry-After when both are there.
            limits = parse_rate_limits(response.rate_limits)
            for category, seconds in limits.items():
                self._until[category] = max(self._until.get(category, 0.0), now + seconds)
            return bool(limits)
        if response.status == 429:
            self._until[None] = now + parse_retry_after(response.retry_after)
            return True
        return False

    def blocked(self, category: str, now: float) -> bool:
        return self._until.get(category, 0.0) > now or self._until.get(None, 0.0) > now

    def next_expiry(self, now: float) -> float | None:
        ahead = [until for until in self._until.values() if until > now]
        return min(ahead) if ahead else None


class Worker:
    """The queue, the thread and the sending. See ``HttpTransport`` for the options."""

    def __init__(
        self,
        dsn: Dsn,
        *,
        spool: DiskSpool | None,
        queue_size: int,
        connect_timeout: float,
        read_timeout: float,
        gzip_level: int,
        backoff_base: float,
        backoff_max: float,
        report_interval: float,
        scan_interval: float,
    ) -> None:
        self.dsn = dsn
        self._dsn_text = str(dsn)
        self.spool = spool
        self.stats = TransportStats()
        self.queue_size = max(1, queue_size)
        self.gzip_level = gzip_level
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.report_interval = report_interval
        self.scan_interval = scan_interval
        # Events the spool cannot take (no spool, or a disk error) wait here instead.
        self.memory = MemoryOutbox(self.queue_size, self._evicted_from_memory)
        self.outboxes: list[Outbox] = [self.memory]
        if spool is not None:
            self.outboxes.append(spool)
        self.journal_outbox: JournalOutbox | None = None
        if spool is not None:
            journal = Journal(
                str(spool.directory),
                serials=spool.next_serial,
                on_drop=self._dropped_from_journal,
                max_files=spool.max_bytes // FILE_BYTES,
            )
            self.journal_outbox = JournalOutbox(
                journal, spool, self.memory, self.stats, self.record_lost
            )
            self.outboxes.append(self.journal_outbox)
        self.conn = Connection(dsn, connect_timeout, read_timeout)
        self.limits = RateLimits()
        self._init_state()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _after_fork(ref))
        self.start()

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[tuple[int, dict[str, Any]]] = deque()
        self._unfinished = 0
        self._added = 0  # envelopes put in an outbox: the thread re-checks before it sleeps
        self._idle = False
        self._stopping = False
        self._closed = False
        self._report_now = False
        self._lost: dict[tuple[str, str], int] = {}
        self._lost_lock = threading.Lock()
        self._failures = 0
        self._retry_at = 0.0
        self._last_ok = False
        self._strikes_armed = False
        self._strikes: dict[str, int] = {}
        self._last_report = time.monotonic()
        self._next_scan = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tracefix.sdk.transport")
        self._thread.daemon = True
        self._thread.start()

    def after_fork(self) -> None:
        """The child starts afresh: the parent sends what it had queued."""
        closed = self._closed
        self._init_state()
        self.memory.after_fork()
        if self.spool is not None:
            self.spool.after_fork()
        if self.journal_outbox is not None:
            self.journal_outbox.journal.after_fork()
        self.conn.forget()
        if closed:
            self._closed = self._stopping = True
        else:
            self.start()

    # -- the caller's side ------------------------------------------------------------------

    def append(self, event: dict[str, Any]) -> bool:
        """Serialise ``event`` on the caller's thread and copy it into the journal: on disk
        when this returns, with no system call and no wait. False when there is no journal or
        it cannot take the event (then ``submit`` it)."""
        journal_outbox = self.journal_outbox
        if journal_outbox is None or self._closed:
            return False
        event = self._with_event_id(event)
        kind = EVENT
        try:
            data = event_payload(event, self._dsn_text)
        except ValueError:  # a value marshal cannot hold: the envelope, in JSON, now
            kind = ENVELOPE
            try:
                data = self._serialize(event)
            except Exception:
                logger.debug("tracefix: could not serialise an event", exc_info=True)
                self.record_lost("internal_sdk_error", "error")
                return True
        if not journal_outbox.journal.append(data, time.time_ns(), kind):
            return False
        self.stats.queued += 1
        if self._idle:
            # Only then: a thread at work sees the record when it looks for more (``_step``
            # marks itself idle, then looks, under the lock), and the lock costs a microsecond.
            self._wake()
        return True

    def submit(self, event: dict[str, Any]) -> bool:
        """Queue ``event``; False when the queue is full or closed."""
        with self._cond:
            if self._closed or len(self._queue) >= self.queue_size:
                return False
            self._queue.append((time.time_ns(), event))
            self._unfinished += 1
            self._idle = False
            self._cond.notify_all()
            self.stats.queued += 1
        return True

    def record_lost(self, reason: str, category: str, quantity: int = 1) -> None:
        if quantity <= 0:
            return
        key = (reason, category)
        with self._lost_lock:
            self._lost[key] = self._lost.get(key, 0) + quantity
            self.stats.dropped[key] = self.stats.dropped.get(key, 0) + quantity

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            self._report_now = True
            self._idle = False
            self._cond.notify_all()
        while True:
            if self.spool is not None:
                # With a disk spool the caller writes what is queued itself: the thread may be
                # stuck in a POST to a hung server for up to read_timeout.
                self.store_queued()
            with self._cond:
                thread = self._thread
                running = thread is not None and thread.is_alive()
                # Idle with envelopes in memory means backing off: keep waiting for delivery.
                if self._unfinished == 0 and (not running or self._idle and not len(self.memory)):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        return self._unfinished == 0 and len(self.memory) == 0

    def close(self, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
        if self.journal_outbox is not None:
            self.journal_outbox.journal.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.journal_outbox is not None:
            # What the thread left (it may be stuck in a POST to a hung server), as far as the
            # time allows; the thread moves the rest as it ends, else the next process does.
            # Without fsync, which the journal's copy did not have either: a timeout is a promise.
            self.journal_outbox.move_waiting(deadline=deadline, sync=False)
        self.store_queued()
        for claim in self.memory.drain():
            self.record_lost("network_error", claim.category)
        if self.spool is not None and (report := self._take_report()):
            # Nobody else will send it: the next process does, from the spool.
            try:
                envelope = serialize_envelope([("client_report", report)])
                self.spool.add(envelope, REPORTS)
            except OSError:
                logger.debug("tracefix: could not spool the client report", exc_info=True)

    def store_queued(self) -> None:
        """Move what is queued to the outbox."""
        while True:
            with self._cond:
                if not self._queue:
                    return
                created_ns, event = self._queue.popleft()
            try:
                self.store(event, created_ns)
            finally:
                with self._cond:
                    self._unfinished -= 1
                    self._cond.notify_all()

    def store(
        self, event: dict[str, Any], created_ns: int | None = None, *, sync: bool = True
    ) -> None:
        """Serialise ``event`` and put it in the spool, else in memory. ``sync=False``: no
        fsync, for a caller's thread that must not wait on the disk."""
        try:
            data = self._serialize(event)
        except Exception:
            logger.debug("tracefix: could not serialise an event", exc_info=True)
            self.record_lost("internal_sdk_error", "error")
            return
        if self.spool is not None:
            try:
                self.spool.add(data, "error", created_ns, sync=sync)
                self.stats.spooled += 1
                self._wake()
                return
            except OSError:
                logger.debug("tracefix: could not write to the spool", exc_info=True)
        if self.limits.blocked("error", time.monotonic()):
            self.record_lost("ratelimit_backoff", "error")
            return
        self.memory.add(data, "error", items=_EVENT_ITEMS)
        self._wake()

    def _wake(self) -> None:
        with self._cond:
            self._added += 1
            if self._idle:  # a busy thread finds it at the end of its turn
                self._idle = False
                self._cond.notify_all()

    def _serialize(self, event: dict[str, Any]) -> bytes:
        event = self._with_event_id(event)
        return serialize_event(event, event["event_id"], self.dsn)

    @staticmethod
    def _with_event_id(event: dict[str, Any]) -> dict[str, Any]:
        """``event``, or a copy with an id when it has none (the caller's dict stays as is)."""
        event_id = event.get("event_id")
        if isinstance(event_id, str) and len(event_id) == 32:
            return event
        return {**event, "event_id": uuid.uuid4().hex}

    def _evicted_from_memory(self, category: str, quantity: int) -> None:
        self.record_lost("queue_overflow", category, quantity)

    def _dropped_from_journal(self, quantity: int) -> None:
        # The journal is the spool's front part: full, it drops the oldest as the spool does.
        self.record_lost("cache_overflow", "error", quantity)

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        # The first connection imports the IDNA codec to encode the host name (~5 ms of
        # imports under the GIL): now, while the app starts, rather than at its first error.
        with contextlib.suppress(LookupError):
            codecs.lookup("idna")
        if self.spool is not None:
            # First, before this thread claims anything: the scan takes back claims bearing
            # this pid, which can only be an earlier process's.
            self._next_scan = time.monotonic() + self.scan_interval
            try:
                self.spool.refresh()
            except Exception:
                logger.debug("tracefix: could not read the spool", exc_info=True)
        while True:
            try:
                if not self._step():
                    self.conn.close()
                    if self.journal_outbox is not None:
                        # Closed: what is left goes into the spool, for whoever comes next.
                        self.journal_outbox.move_waiting()
                    return
            except Exception:
                logger.debug("tracefix: internal error in the transport thread", exc_info=True)
                with self._cond:
                    self._cond.wait(0.5)  # not a hot loop if it keeps failing

    def _step(self) -> bool:
        """One turn of the loop; False when the thread should stop."""
        with self._cond:
            added = self._added
        self.store_queued()
        with self._cond:
            # A flushing caller may be writing an earlier event: let it land, to send in order.
            while self._unfinished and not self._queue and not self._stopping:
                self._cond.wait(0.05)
            if self._stopping:
                return False  # closed: what is left waits in the spool for the next process
        now = time.monotonic()
        if self.spool is not None and now >= self._next_scan:
            self._next_scan = now + self.scan_interval
            self.spool.refresh()
        held = now < self._retry_at or self.limits.blocked("error", now)
        if held and self.journal_outbox is not None and len(self.journal_outbox):
            # Held back: into the spool, bounded and evictable, where other processes see them.
            self.journal_outbox.move_waiting(limit=_MOVE_BATCH)
            return True
        if now >= self._retry_at:
            for outbox in self.outboxes:
                claim = outbox.claim_next(self._blocked)
                if claim is not None:
                    self._send(outbox, claim)
                    return True
            if self._report_due(now):
                self._send_report()
                return True
        with self._cond:
            if self._stopping:
                return False
            if self._queue or self._added != added:
                return True  # something came while this turn looked elsewhere
        if self.journal_outbox is not None:
            self.journal_outbox.journal.retire_if_done()
        with self._cond:
            if self._stopping:
                return False
            self._idle = True  # first: an ``append`` from now on wakes it
            if self._queue or self._added != added or self._journal_waiting():
                self._idle = False
                return True
            self._report_now = False
            self._cond.notify_all()
            self._cond.wait(self._sleep_for(now))
            self._idle = False
            return not self._stopping

    def _journal_waiting(self) -> bool:
        return self.journal_outbox is not None and len(self.journal_outbox) > 0

    def _blocked(self, category: str) -> bool:
        return self.limits.blocked(category, time.monotonic())

    def _sleep_for(self, now: float) -> float:
        wake = [self._next_scan] if self.spool is not None else []
        waiting = any(len(outbox) for outbox in self.outboxes) or bool(self._lost)
        if waiting:
            if self._retry_at > now:
                wake.append(self._retry_at)
            if (expiry := self.limits.next_expiry(now)) is not None:
                wake.append(expiry)
        if self._lost:
            wake.append(self._last_report + self.report_interval)
        return max(0.001, min(wake, default=now + 60.0) - now)

    def _report_due(self, now: float) -> bool:
        if not self._lost or self.limits.blocked("internal", now):
            return False
        return self._report_now or now - self._last_report >= self.report_interval

    def _take_report(self) -> dict[str, Any] | None:
        with self._lost_lock:
            lost, self._lost = self._lost, {}
        self._last_report = time.monotonic()
        return client_report(lost) if lost else None

    def _give_back_report(self, report: dict[str, Any] | None) -> None:
        if report is None:
            return
        with self._lost_lock:
            for entry in report["discarded_events"]:
                key = (entry["reason"], entry["category"])
                self._lost[key] = self._lost.get(key, 0) + entry["quantity"]

    def _send_report(self) -> None:
        report = self._take_report()
        with self._cond:
            self._report_now = False
        if report is None:
            return
        status = self._post(serialize_envelope([("client_report", report)]))
        if status is None or status == 429 or status >= 500:
            self._give_back_report(report)

    def _send(self, outbox: Outbox, claim: Claim) -> None:
        items = claim.items
        if items is None:
            try:
                items = tuple(
                    (item.type, item.category) for item in parse_envelope(claim.data).items
                )
            except EnvelopeError:
                # A damaged or foreign file: drop it, never retry it forever.
                outbox.done(claim)
                self.record_lost("internal_sdk_error", claim.category)
                return
        report = self._take_report()
        extra = serialize_item("client_report", report) if report else b""
        status = self._post(with_sent_at(claim.data, checked=True) + extra)
        if status is not None and 200 <= status < 300:
            outbox.done(claim)
            self._strikes.pop(claim.name, None)
            self.stats.sent += sum(1 for item_type, _ in items if item_type == "event")
            return
        if status is not None and status != 429 and status < 500:
            # develop.sentry.dev/sdk/expected-features/#dealing-with-network-failures: a 4xx
            # is final (400 malformed, 413 too large); retrying would never end.
            outbox.done(claim)
            self._strikes.pop(claim.name, None)
            for item_type, category in items:
                if item_type != "client_report":
                    self.record_lost("send_error", category)
            return
        self._give_back_report(report)
        if status == 429 and not outbox.durable:
            # Not reported: the server counted it already (develop.sentry.dev/sdk/
            # expected-features/#dealing-with-network-failures).
            outbox.done(claim)
            return
        if status is not None and status >= 500:
            if self._struck_out(claim):
                outbox.done(claim)
                self.record_lost("send_error", claim.category)
            else:
                outbox.release(claim, rotate=True)
            return
        outbox.release(claim)

    def _struck_out(self, claim: Claim) -> bool:
        """A 5xx after the server had just accepted something is a strike against the envelope
        (it, not an outage, may be the cause); three strikes and it is dropped. During an
        outage every answer is a 5xx and no envelope collects strikes."""
        if not self._strikes_armed:
            return False
        if len(self._strikes) > 10_000:
            self._strikes.clear()
        self._strikes[claim.name] = strikes = self._strikes.get(claim.name, 0) + 1
        return strikes >= 3

    def _post(self, envelope: bytes) -> int | None:
        """POST an envelope; its status, or None on a network error. Applies rate limits and
        back-off."""
        self.stats.posts += 1
        try:
            response = self.conn.post(gzip.compress(envelope, self.gzip_level))
        except NetworkError as exc:
            logger.debug("tracefix: could not send to %s: %s", self.dsn.netloc, exc)
            response = None
        self.stats.connections = self.conn.opened
        now = time.monotonic()
        self._strikes_armed = self._last_ok
        self._last_ok = response is not None and 200 <= response.status < 300
        if response is not None:
            if self.limits.update(response, now) and len(self.memory):
                # Without a disk spool nothing can wait out a limit: drop and report.
                for category, quantity in self.memory.purge(self._blocked).items():
                    self.record_lost("ratelimit_backoff", category, quantity)
        if response is None or response.status >= 500:
            self.stats.failures += 1
            self._failures += 1
            delay = min(self.backoff_max, self.backoff_base * 2 ** min(self._failures - 1, 30))
            self._retry_at = now + delay * random.uniform(0.5, 1.0)
        elif response.status == 429:
            self.stats.failures += 1
        else:
            if self._failures and self.spool is not None:
                self._next_scan = 0.0  # recovered: look for what other processes left
            self._failures = 0
            self._retry_at = 0.0
        return None if response is None else response.status


def _after_fork(ref: weakref.ref[Worker]) -> None:
    worker = ref()
    if worker is not None:
        try:
            worker.after_fork()
        except Exception:
            logger.debug("tracefix: could not restart the transport after fork", exc_info=True)
