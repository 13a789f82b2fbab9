"""The journal: records written on the app's thread, read back in order, deleted when done,
bounded, and recovered from files their writers left (a torn tail, a record moved but not
marked, a kill -9 in the middle of a burst)."""

from __future__ import annotations

import errno
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tracefix.sdk._journal import EVENT
from tracefix.sdk._journal import LIVE_NAMES
from tracefix.sdk._journal import RECORD
from tracefix.sdk._journal import Journal
from tracefix.sdk._journal import event_payload
from tracefix.sdk._journal import read_records
from tracefix.sdk._spool import DiskSpool
from tracefix.sdk._worker import spool_name
from tracefix.sdk.envelope import parse_envelope
from tracefix.sdk.envelope import serialize_envelope
from tracefix.sdk.transport import HttpTransport

from .conftest import event_ids_on_disk

MakeEvent = Callable[..., dict[str, Any]]
MakeTransport = Callable[..., HttpTransport]
WaitUntil = Callable[..., bool]


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def _journal(directory: Path, dropped: list[int] | None = None, **options: Any) -> Journal:
    serials = itertools.count()
    return Journal(
        str(directory),
        serials=lambda: next(serials),
        on_drop=(dropped if dropped is not None else []).append,
        **options,
    )


def _envelope(event_id: str, size: int = 100) -> bytes:
    event = {"event_id": event_id, "message": "x" * size}
    return serialize_envelope([("event", event)], event_id=event_id)


def _journal_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith(".journal-"))


def _spool_ids(directory: Path) -> list[str]:
    return sorted(
        event["event_id"]
        for name in os.listdir(directory)
        if name.endswith(".env")
        for event in parse_envelope((directory / name).read_bytes()).events()
    )


def test_records_come_back_in_order_and_a_finished_file_is_deleted(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    ids = [f"{n:032x}" for n in range(5)]
    for event_id in ids:
        assert journal.append(_envelope(event_id), time.time_ns())
    (name,) = _journal_files(tmp_path)
    assert name in LIVE_NAMES

    taken = [journal.take() for _ in ids]
    assert journal.take() is None
    assert [parse_envelope(r.data).headers["event_id"] for r in taken if r] == ids
    for record in taken:
        assert record is not None
        journal.done(record)
    assert _journal_files(tmp_path) == [name]  # still the one appended to
    journal.retire_if_done()

    assert _journal_files(tmp_path) == []
    assert name not in LIVE_NAMES
    assert journal.append(_envelope("f" * 32), time.time_ns())  # a new file for the next one
    assert len(_journal_files(tmp_path)) == 1
    journal.close()


def test_the_file_holds_every_record_as_the_app_wrote_it(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    payloads = [_envelope(f"{n:032x}", size=n * 300) for n in range(4)]
    for payload in payloads:
        journal.append(payload, time.time_ns())
    first = journal.take()
    assert first is not None
    journal.done(first)

    (name,) = _journal_files(tmp_path)
    records = read_records((tmp_path / name).read_bytes())

    assert [record.data for record in records] == payloads
    assert [record.waiting for record in records] == [False, True, True, True]
    journal.close()


def test_a_full_journal_drops_its_oldest_file_and_counts_it(tmp_path: Path) -> None:
    dropped: list[int] = []
    journal = _journal(tmp_path, dropped, max_files=2, file_bytes=4096)
    payload = _envelope("0" * 32, size=800)  # four records to a file
    per_file = 4096 // (RECORD.size + len(payload))

    for _ in range(per_file * 5):
        assert journal.append(payload, time.time_ns())

    assert len(_journal_files(tmp_path)) == 2
    assert sum(dropped) == per_file * 3
    assert len(journal) == per_file * 2
    journal.close()


class Opaque:
    """A value ``marshal`` cannot hold, as ``before_send`` may add."""

    def __str__(self) -> str:
        return "opaque value"


def test_an_event_marshal_cannot_hold_goes_in_as_json_and_arrives(
    receiver: Any, make_transport: MakeTransport, make_event: MakeEvent, spool_dir: Path
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    plain = make_event(0)
    odd = make_event(1, extra={"value": Opaque()})

    transport.capture_event(plain)
    transport.capture_event(odd)
    assert transport.flush(5)

    assert receiver.event_ids() == [plain["event_id"], odd["event_id"]]
    assert receiver.events()[1]["extra"] == {"value": "opaque value"}


def test_an_event_too_big_for_the_journal_still_arrives(
    receiver: Any, make_transport: MakeTransport, make_event: MakeEvent, spool_dir: Path
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    big = make_event(0, extra={"blob": "y" * (2 * 1024 * 1024)})
    small = make_event(1)

    transport.capture_event(big)
    transport.capture_event(small)
    assert transport.flush(5)

    assert sorted(receiver.event_ids()) == sorted([big["event_id"], small["event_id"]])


def test_on_a_full_disk_the_journal_steps_aside_and_the_event_still_arrives(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_space(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    event = make_event(0)

    transport.capture_event(event)
    assert transport.flush(5)

    assert receiver.event_ids() == [event["event_id"]]
    assert _journal_files(spool_dir) == []


# --- recovery -------------------------------------------------------------------------------


def _left_behind(directory: Path, pid: int, payloads: list[bytes]) -> tuple[Path, list[int]]:
    """A journal file as a process ``pid`` would have left it: ``payloads`` appended, none
    taken; and the records' offsets."""
    journal = _journal(directory)
    for payload in payloads:
        journal.append(payload, time.time_ns())
    (name,) = _journal_files(directory)
    data = (directory / name).read_bytes()
    left = directory / f".journal-{pid}-{time.time_ns():020d}-99"
    left.write_bytes(data)
    os.unlink(directory / name)
    LIVE_NAMES.discard(name)
    offsets, position = [], 0
    for payload in payloads:
        offsets.append(position)
        position += RECORD.size + len(payload)
    return left, offsets


def _spool(directory: Path) -> DiskSpool:
    return DiskSpool(directory, fsync=False, on_evict=lambda category, quantity: None)


@pytest.mark.parametrize(
    "tear",
    ["payload cut short", "header cut short", "a byte of the payload changed"],
)
def test_a_dead_writers_journal_is_recovered_up_to_its_torn_tail(tmp_path: Path, tear: str) -> None:
    ids = [f"{n:032x}" for n in range(4)]
    left, offsets = _left_behind(tmp_path, _dead_pid(), [_envelope(i) for i in ids])
    data = bytearray(left.read_bytes())
    last = offsets[-1]
    if tear == "payload cut short":
        data[last + RECORD.size + 40 :] = bytes(len(data) - last - RECORD.size - 40)
    elif tear == "header cut short":
        data[last + 6 :] = bytes(len(data) - last - 6)
    else:
        data[last + RECORD.size + 60] ^= 0x01
    left.write_bytes(bytes(data))

    _spool(tmp_path).refresh()

    assert _spool_ids(tmp_path) == ids[:3]
    assert _journal_files(tmp_path) == []


def test_recovery_restores_waiting_records_once_and_taken_ones_never(tmp_path: Path) -> None:
    dead = _dead_pid()
    ids = [f"{n:032x}" for n in range(3)]
    payloads = [_envelope(i) for i in ids]
    left, offsets = _left_behind(tmp_path, dead, payloads)
    data = bytearray(left.read_bytes())
    data[offsets[0]] = 2  # the first was sent: marked taken
    left.write_bytes(bytes(data))
    spool = _spool(tmp_path)
    # The second was moved into the spool by its writer, which died before marking it.
    moved = read_records(bytes(data))[1]
    spool.add(moved.data, "error", moved.created_ns, origin=(dead, moved.serial))

    spool.refresh()

    assert _spool_ids(tmp_path) == ids[1:]
    assert _journal_files(tmp_path) == []


def test_an_event_record_becomes_the_envelope_its_writer_would_have_sent(
    tmp_path: Path, make_event: MakeEvent
) -> None:
    event = make_event(0)
    dsn = "http://public@127.0.0.1:9/42"
    journal = _journal(tmp_path)
    journal.append(event_payload(event, dsn), time.time_ns(), EVENT)
    (name,) = _journal_files(tmp_path)
    os.rename(tmp_path / name, tmp_path / f".journal-{_dead_pid()}-{time.time_ns():020d}-1")
    LIVE_NAMES.discard(name)

    _spool(tmp_path).refresh()

    (restored,) = [n for n in os.listdir(tmp_path) if n.endswith(".env")]
    envelope = parse_envelope((tmp_path / restored).read_bytes())
    assert envelope.headers["dsn"] == dsn
    assert envelope.headers["event_id"] == event["event_id"]
    assert envelope.events() == [json.loads(json.dumps(event))]


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_a_journal_another_user_owns_is_deleted_unread(tmp_path: Path) -> None:
    left, _ = _left_behind(tmp_path, _dead_pid(), [_envelope("e" * 32)])
    os.chown(left, 65534, 65534)

    _spool(tmp_path).refresh()

    assert _journal_files(tmp_path) == []
    assert _spool_ids(tmp_path) == []


def test_a_live_writers_journal_is_left_alone(tmp_path: Path) -> None:
    live = os.getppid()
    left, _ = _left_behind(tmp_path, live, [_envelope("a" * 32)])
    mine = _journal(tmp_path)
    mine.append(_envelope("b" * 32), time.time_ns())

    _spool(tmp_path).refresh()

    assert len(_journal_files(tmp_path)) == 2
    assert left.exists()
    assert _spool_ids(tmp_path) == []
    mine.close()


def test_a_journal_of_an_earlier_process_with_this_pid_is_recovered(tmp_path: Path) -> None:
    # Containers start each process with the same pid: a journal with this pid that this
    # process did not open is an earlier life's.
    left, _ = _left_behind(tmp_path, os.getpid(), [_envelope("c" * 32)])
    assert left.name not in LIVE_NAMES

    _spool(tmp_path).refresh()

    assert _spool_ids(tmp_path) == ["c" * 32]
    assert _journal_files(tmp_path) == []


def test_a_record_keeps_its_name_through_the_spool(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.append(_envelope("d" * 32), time.time_ns())
    record = journal.take()
    assert record is not None

    _spool(tmp_path).add(
        record.data, "error", record.created_ns, origin=(record.pid, record.serial)
    )

    assert spool_name(record, record.envelope()) in os.listdir(tmp_path)
    journal.close()


# --- real processes -------------------------------------------------------------------------

# Captures in a tight loop, never flushing; prints each id once capture_event has returned.
BURST = """\
import sys, uuid
from tracefix.sdk.transport import HttpTransport

transport = HttpTransport(sys.argv[1], spool_dir=sys.argv[2], backoff_base=0.02, backoff_max=0.05)
print("ready", flush=True)
pad = "x" * 1500
while True:
    event_id = uuid.uuid4().hex
    transport.capture_event({"event_id": event_id, "message": "burst", "extra": {"pad": pad}})
    print(event_id, flush=True)
"""


@pytest.mark.parametrize("receiver_up", [True, False], ids=["receiver up", "receiver down"])
def test_kill_9_in_a_burst_loses_no_captured_event(
    receiver: Any,
    make_transport: MakeTransport,
    spool_dir: Path,
    tmp_path: Path,
    wait_until: WaitUntil,
    receiver_up: bool,
) -> None:
    script = tmp_path / "burst.py"
    script.write_text(BURST)
    if not receiver_up:
        receiver.stop()
    child = subprocess.Popen(
        [sys.executable, str(script), receiver.dsn, str(spool_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    captured: list[str] = []
    while len(captured) < 300:  # in the middle of the burst, with no flush
        line = child.stdout.readline()
        assert line.endswith("\n")
        captured.append(line.strip())
    child.kill()
    child.wait()
    captured.extend(line.strip() for line in child.stdout if line.endswith("\n"))
    child.stdout.close()

    before = set(receiver.event_ids())
    on_disk = event_ids_on_disk(spool_dir)
    assert set(captured) <= before | set(on_disk)
    if not receiver_up:
        receiver.start()
    make_transport(receiver.dsn, spool_dir=spool_dir)

    assert wait_until(lambda: set(captured) <= set(receiver.event_ids()), timeout=10)
    assert wait_until(lambda: os.listdir(spool_dir) == [], timeout=5)
    delivered = receiver.event_ids()
    # At least once: the one the killed process had in flight may come twice.
    assert len(delivered) - len(set(delivered)) <= 1
