"""The disk spool: its files, its bounds, and what it does with what others left behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tracefix.sdk._spool import DiskSpool
from tracefix.sdk.envelope import parse_envelope
from tracefix.sdk.envelope import serialize_envelope
from tracefix.sdk.transport import HttpTransport

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


def _spool(directory: Path, **options: Any) -> DiskSpool:
    evicted: list[tuple[str, int]] = []
    return DiskSpool(directory, on_evict=lambda c, n: evicted.append((c, n)), **options)


def test_a_spool_file_is_the_envelope_to_send(
    closed_dsn: str, make_transport: MakeTransport, make_event: MakeEvent, spool_dir: Path
) -> None:
    transport = make_transport(closed_dsn, spool_dir=spool_dir, backoff_base=30)
    event = make_event(0)

    transport.capture_event(event)
    assert transport.flush(2)

    (name,) = os.listdir(spool_dir)
    assert name.endswith(".error.env") or ".error.env.sending-" in name
    envelope = parse_envelope((spool_dir / name).read_bytes())
    assert envelope.events()[0]["event_id"] == event["event_id"]
    assert "sent_at" not in envelope.headers  # stamped when it is sent
    assert stat.S_IMODE(os.stat(spool_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(spool_dir / name).st_mode) == 0o600


@pytest.mark.parametrize("by_bytes", [False, True], ids=["max events", "max bytes"])
def test_a_full_spool_drops_the_oldest_and_reports_it(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
    by_bytes: bool,
) -> None:
    events = [make_event(i) for i in range(25)]
    size = len(serialize_envelope([("event", events[-1])], event_id="0" * 32, dsn=receiver.dsn))
    bound = {"spool_max_bytes": int(6.5 * size)} if by_bytes else {"spool_max_events": 10}
    kept = 6 if by_bytes else 10
    receiver.stop()
    down = make_transport(receiver.dsn, spool_dir=spool_dir, backoff_base=30, **bound)
    down.capture_event(events[0])
    assert down.flush(2)  # its send failed: backing off, nothing in flight, all evictable
    for event in events[1:]:
        down.capture_event(event)
    assert down.flush(2)
    down.close(1)  # leaves its client report in the spool for the next process
    receiver.start()

    make_transport(receiver.dsn, spool_dir=spool_dir, **bound)

    newest = [event["event_id"] for event in events[-kept:]]
    assert wait_until(lambda: receiver.event_ids() == newest)
    assert wait_until(lambda: receiver.discarded() == {("cache_overflow", "error"): 25 - kept})
    assert down.stats.dropped == {("cache_overflow", "error"): 25 - kept}
    assert wait_until(lambda: os.listdir(spool_dir) == [])


def test_what_dead_processes_left_is_sent_cleaned_or_dropped(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
) -> None:
    spool = _spool(spool_dir, fsync=False)
    events = [make_event(i) for i in range(3)]
    for event in events:
        spool.add(serialize_envelope([("event", event)], event_id=event["event_id"]), "error")
    names = sorted(os.listdir(spool_dir))
    dead = _dead_pid()
    os.rename(spool_dir / names[0], spool_dir / f"{names[0]}.sending-{dead}")  # died sending
    (spool_dir / f".tmp-{dead}-7").write_bytes(b'{"event_id":')  # died writing
    (spool_dir / f"{time.time_ns():020d}-{dead}-00000009-12.error.env").write_bytes(b"not json\n")
    (spool_dir / "README").write_text("not the spool's")

    transport = make_transport(receiver.dsn, spool_dir=spool_dir)

    assert wait_until(lambda: sorted(receiver.event_ids()) == sorted(e["event_id"] for e in events))
    assert transport.flush(2)  # sends the client report
    assert receiver.discarded() == {("internal_sdk_error", "error"): 1}
    assert wait_until(lambda: os.listdir(spool_dir) == ["README"])


def test_a_claim_is_taken_back_only_from_a_dead_or_stale_owner(tmp_path: Path) -> None:
    live = os.getppid()
    for stale_after, taken_back in ((300.0, False), (0.0, True)):
        directory = tmp_path / str(stale_after)
        spool = _spool(directory, fsync=False, stale_after=stale_after)
        spool.add(serialize_envelope([("event", {"message": "x"})]), "error")
        (name,) = os.listdir(directory)
        claimed = directory / f"{name}.sending-{live}"
        os.rename(directory / name, claimed)
        old = time.time() - 10
        os.utime(claimed, (old, old))

        spool.refresh()

        assert os.listdir(directory) == ([name] if taken_back else [claimed.name])
        assert len(spool) == (1 if taken_back else 0)


def test_own_pid_claims_from_an_earlier_life_are_taken_back(tmp_path: Path) -> None:
    # A container starts each process with the same pid: a claim bearing this pid that is
    # older than this process's SDK is an earlier life's; a newer one is in flight.
    spool = _spool(tmp_path, fsync=False)
    for _ in range(2):
        spool.add(serialize_envelope([("event", {"message": "x"})]), "error")
    earlier, current = sorted(os.listdir(tmp_path))
    for name in (earlier, current):
        os.rename(tmp_path / name, tmp_path / f"{name}.sending-{os.getpid()}")
    long_ago = time.time() - 3600
    os.utime(tmp_path / f"{earlier}.sending-{os.getpid()}", (long_ago, long_ago))

    spool.refresh()

    assert sorted(os.listdir(tmp_path)) == [earlier, f"{current}.sending-{os.getpid()}"]


def test_the_default_spool_is_per_user_and_per_dsn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    one = HttpTransport("http://a@127.0.0.1:9/1")
    same = HttpTransport("http://a@127.0.0.1:9/1")
    other = HttpTransport("http://a@127.0.0.1:9/2")
    try:
        assert one.spool_dir is not None
        assert one.spool_dir.parent == tmp_path / "tracefix" / "spool"
        assert one.spool_dir == same.spool_dir
        assert other.spool_dir != one.spool_dir
    finally:
        for transport in (one, same, other):
            transport.close(0.1)
