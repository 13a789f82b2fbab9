"""Real processes on one spool: kill -9 while sending, and two senders sharing a directory."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracefix.sdk._spool import DiskSpool
from tracefix.sdk.envelope import serialize_envelope
from tracefix.sdk.transport import HttpTransport

from .conftest import event_ids_on_disk

MakeEvent = Callable[..., dict[str, Any]]
MakeTransport = Callable[..., HttpTransport]
WaitUntil = Callable[..., bool]

# Captures in a tight loop; every 25 events it flushes and prints their ids: from then on they
# are on disk and must arrive.
CAPTURE_LOOP = """\
import sys, uuid
from tracefix.sdk.transport import HttpTransport

transport = HttpTransport(sys.argv[1], spool_dir=sys.argv[2], backoff_base=0.02, backoff_max=0.05)
print("ready", flush=True)
batch = []
while True:
    event_id = uuid.uuid4().hex
    transport.capture_event({"event_id": event_id, "message": "loop", "extra": {"pad": "x" * 1500}})
    batch.append(event_id)
    if len(batch) == 25:
        transport.flush(5)
        print(" ".join(batch), flush=True)
        batch = []
"""

# Sends what the spool holds, then says how many it sent.
DRAIN = """\
import os, sys, time
from tracefix.sdk.transport import HttpTransport

transport = HttpTransport(sys.argv[1], spool_dir=sys.argv[2])
deadline = time.monotonic() + 20
while time.monotonic() < deadline and any(
    name.endswith(".env") or ".sending-" in name for name in os.listdir(sys.argv[2])
):
    time.sleep(0.01)
transport.close(2)
print(transport.stats.sent)
"""


def test_kill_9_while_capturing_loses_no_spooled_event(
    receiver: Any,
    make_transport: MakeTransport,
    spool_dir: Path,
    tmp_path: Path,
    wait_until: WaitUntil,
) -> None:
    script = tmp_path / "capture_loop.py"
    script.write_text(CAPTURE_LOOP)
    receiver.stop()
    flushed: list[str] = []
    rng = random.Random(4)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, str(script), receiver.dsn, str(spool_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.15, 0.45))
        child.kill()
        child.wait()
        output = child.stdout.read()
        child.stdout.close()
        flushed.extend(
            event_id
            for line in output.splitlines(keepends=True)
            if line.endswith("\n")
            for event_id in line.split()
        )

    spooled = event_ids_on_disk(spool_dir)
    assert len(flushed) >= 25
    assert set(flushed) <= set(spooled)
    assert len(spooled) == len(set(spooled))
    receiver.start()
    make_transport(receiver.dsn, spool_dir=spool_dir)

    assert wait_until(lambda: len(receiver.event_ids()) >= len(spooled), timeout=10)
    assert wait_until(lambda: os.listdir(spool_dir) == [], timeout=2)  # no temp file, no claim
    assert sorted(receiver.event_ids()) == sorted(spooled)  # each exactly once


def test_two_processes_sharing_a_spool_send_each_event_once(
    receiver: Any, make_event: MakeEvent, spool_dir: Path, tmp_path: Path
) -> None:
    spool = DiskSpool(spool_dir, fsync=False, on_evict=lambda category, quantity: None)
    events = [make_event(i) for i in range(300)]
    for event in events:
        spool.add(serialize_envelope([("event", event)], event_id=event["event_id"]), "error")
    receiver.delay = 0.003  # both are mid-drain at the same time
    script = tmp_path / "drain.py"
    script.write_text(textwrap.dedent(DRAIN))

    children = [
        subprocess.Popen(
            [sys.executable, str(script), receiver.dsn, str(spool_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    sent = [int(child.communicate(timeout=30)[0]) for child in children]

    assert sorted(receiver.event_ids()) == sorted(event["event_id"] for event in events)
    assert sum(sent) == 300
    assert min(sent) > 0
    assert os.listdir(spool_dir) == []


# gunicorn --preload: the app (and the transport) are made in the master, then forked.
FORK = """\
import os, sys
from tracefix.sdk.transport import HttpTransport

transport = HttpTransport(sys.argv[1], spool_dir=sys.argv[2])
transport.capture_event({"message": "parent before the fork"})
assert transport.flush(2)
pid = os.fork()
if pid == 0:
    transport.capture_event({"message": "child"})
    flushed = transport.flush(2)
    transport.close(1)
    os._exit(0 if flushed else 1)
_, status = os.waitpid(pid, 0)
transport.capture_event({"message": "parent after the fork"})
assert transport.flush(2)
transport.close(1)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_sends_its_own_events(
    receiver: Any, spool_dir: Path, tmp_path: Path
) -> None:
    script = tmp_path / "fork.py"
    script.write_text(FORK)

    subprocess.run([sys.executable, str(script), receiver.dsn, str(spool_dir)], check=True)

    messages = sorted(event["message"] for event in receiver.events())
    assert messages == ["child", "parent after the fork", "parent before the fork"]
    assert receiver.connections == 2  # the child opened its own; it never wrote on the parent's
