"""HttpTransport against a real receiver on loopback: the happy path, outages, rate limits,
rejections and the caller's time limits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tracefix.sdk.transport import HttpTransport

from .conftest import event_ids_on_disk

MakeEvent = Callable[..., dict[str, Any]]
MakeTransport = Callable[..., HttpTransport]
WaitUntil = Callable[..., bool]


def test_posts_share_one_keep_alive_connection(
    receiver: Any, make_transport: MakeTransport, make_event: MakeEvent, spool_dir: Path
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    events = [make_event(i) for i in range(50)]

    for event in events:
        transport.capture_event(event)

    assert transport.flush(5)
    assert receiver.event_ids() == [event["event_id"] for event in events]
    assert receiver.connections == 1
    assert {post.connection for post in receiver.posts} == {1}
    post = receiver.posts[0]
    assert post.path == "/api/42/envelope/"
    assert post.headers["Content-Type"] == "application/x-sentry-envelope"
    assert post.headers["Content-Encoding"] == "gzip"
    assert post.headers["X-Sentry-Auth"].startswith("Sentry sentry_key=public, sentry_version=7")
    assert post.envelope.headers["dsn"] == receiver.dsn
    assert "sent_at" in post.envelope.headers
    assert transport.stats.sent == 50
    assert transport.stats.connections == 1
    assert os.listdir(spool_dir) == []


def test_receiver_down_then_up_every_event_arrives_once(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    transport.capture_event(make_event(-1))
    assert transport.flush(2)
    receiver.stop()
    events = [make_event(i) for i in range(200)]

    for event in events:
        transport.capture_event(event)
    assert transport.flush(2)  # on disk
    time.sleep(1.0)
    posts_while_down = len(receiver.posts)
    receiver.start()

    expected = sorted(event["event_id"] for event in events)
    assert wait_until(lambda: len(receiver.event_ids()) >= 201, timeout=5)
    assert posts_while_down == 1
    assert sorted(receiver.event_ids()[1:]) == expected
    assert len(set(receiver.event_ids())) == len(receiver.event_ids())
    assert wait_until(lambda: os.listdir(spool_dir) == [], timeout=2)
    assert transport.stats.failures > 0


def test_429_holds_events_until_retry_after(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
) -> None:
    receiver.answer(429, {"Retry-After": "1"})
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    events = [make_event(i) for i in range(5)]

    transport.capture_event(events[0])
    assert wait_until(lambda: len(receiver.posts) == 1)
    limited_at = receiver.posts[0].at
    for event in events[1:]:
        transport.capture_event(event)

    assert wait_until(lambda: len(receiver.event_ids()) == 5, timeout=4)
    assert sorted(receiver.event_ids()) == sorted(e["event_id"] for e in events)
    assert all(post.at >= limited_at + 0.95 for post in receiver.posts[1:])
    assert receiver.discarded() == {}  # held, not dropped


@pytest.mark.parametrize(
    ("header", "held"),
    [
        pytest.param("1:error:organization:quota_exceeded", True, id="errors limited"),
        pytest.param("1::organization", True, id="every category limited"),
        pytest.param("1:default;error;security:key", True, id="several categories"),
        pytest.param("60:transaction:key", False, id="another category limited"),
    ],
)
def test_rate_limit_header_on_a_200(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
    header: str,
    held: bool,
) -> None:
    receiver.answer(200, {"X-Sentry-Rate-Limits": header})
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    transport.capture_event(make_event(0))
    assert wait_until(lambda: len(receiver.posts) == 1)

    transport.capture_event(make_event(1))

    assert wait_until(lambda: len(receiver.event_ids()) == 2, timeout=0.5) is not held
    assert wait_until(lambda: len(receiver.event_ids()) == 2, timeout=3)
    if held:
        assert receiver.posts[1].at >= receiver.posts[0].at + 0.95


def test_429_without_spool_drops_and_reports(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    wait_until: WaitUntil,
) -> None:
    receiver.answer(429, {"Retry-After": "1"})
    transport = make_transport(receiver.dsn, spool_dir=None)
    transport.capture_event(make_event(0))
    assert wait_until(lambda: len(receiver.posts) == 1)

    transport.capture_event(make_event(1))
    transport.capture_event(make_event(2))
    assert wait_until(lambda: transport.stats.dropped == {("ratelimit_backoff", "error"): 2})
    time.sleep(1.0)
    last = make_event(3)
    transport.capture_event(last)

    assert wait_until(lambda: receiver.event_ids() == [last["event_id"]])
    # The event that got the 429 is not reported: the server counted it.
    assert receiver.discarded() == {("ratelimit_backoff", "error"): 2}


@pytest.mark.parametrize("status", [413, 400])
def test_rejected_envelope_is_dropped_and_reported(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
    status: int,
) -> None:
    receiver.answer(status)
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    rejected, accepted = make_event(0), make_event(1)

    transport.capture_event(rejected)
    assert wait_until(lambda: len(receiver.posts) == 1)
    transport.capture_event(accepted)

    assert wait_until(lambda: receiver.event_ids() == [accepted["event_id"]])
    assert receiver.discarded() == {("send_error", "error"): 1}
    assert len(receiver.posts) == 2  # never retried
    assert wait_until(lambda: os.listdir(spool_dir) == [])  # the journal, once the thread is idle


def test_server_errors_are_retried(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
) -> None:
    for status in (500, 503, 502):
        receiver.answer(status)
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    event = make_event(0)

    transport.capture_event(event)

    assert wait_until(lambda: receiver.event_ids() == [event["event_id"]])
    assert [post.status for post in receiver.posts] == [500, 503, 502, 200]
    assert receiver.discarded() == {}


def test_an_envelope_the_server_keeps_failing_on_does_not_block_the_rest(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    wait_until: WaitUntil,
) -> None:
    def poison(envelope: Any) -> tuple[int, dict[str, str]] | None:
        events = envelope.events()
        return (500, {}) if events and events[0]["message"] == "poison" else None

    receiver.rule = poison
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    good = [make_event(i) for i in range(6)]

    transport.capture_event(good[0])
    transport.capture_event(make_event(99, message="poison"))
    for event in good[1:]:
        transport.capture_event(event)

    assert wait_until(lambda: len(receiver.event_ids()) == 6)
    assert sorted(receiver.event_ids()) == sorted(e["event_id"] for e in good)
    transport.capture_event(make_event(7))  # carries the report of the dropped one
    assert wait_until(lambda: receiver.discarded() == {("send_error", "error"): 1}, timeout=3)
    assert wait_until(lambda: os.listdir(spool_dir) == [])


def test_queue_overflow_without_spool_is_counted_and_reported(
    receiver: Any,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    wait_until: WaitUntil,
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=None, queue_size=5)
    receiver.stop()

    for i in range(20):
        transport.capture_event(make_event(i))
    time.sleep(0.3)
    receiver.start()

    assert transport.flush(3)
    dropped = transport.stats.dropped[("queue_overflow", "error")]
    assert wait_until(lambda: receiver.discarded() == {("queue_overflow", "error"): dropped})
    arrived = len(receiver.event_ids())
    assert arrived + dropped == 20
    assert 5 <= arrived <= 10  # the memory bound: the queue and as many waiting to be sent


def test_client_report_of_what_the_client_dropped_is_sent_at_flush(
    receiver: Any, make_transport: MakeTransport, spool_dir: Path, wait_until: WaitUntil
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)

    transport.record_lost_event("before_send")
    transport.record_lost_event("sample_rate", quantity=3)
    assert transport.flush(2)

    assert wait_until(
        lambda: receiver.discarded() == {("before_send", "error"): 1, ("sample_rate", "error"): 3}
    )
    assert [item.type for item in receiver.posts[0].envelope.items] == ["client_report"]


def test_event_ids_are_kept_or_made(
    receiver: Any, make_transport: MakeTransport, make_event: MakeEvent, spool_dir: Path
) -> None:
    transport = make_transport(receiver.dsn, spool_dir=spool_dir)
    event = make_event(0)
    anonymous = {"message": "no id"}

    transport.capture_event(event)
    transport.capture_event(anonymous)
    assert transport.flush(2)

    first, second = receiver.posts
    assert first.envelope.headers["event_id"] == event["event_id"]
    (made,) = second.envelope.events()
    assert len(made["event_id"]) == 32
    assert second.envelope.headers["event_id"] == made["event_id"]
    assert "event_id" not in anonymous  # the caller's dict is not changed


@pytest.mark.parametrize("spooled", [True, False], ids=["spool", "no spool"])
def test_flush_and_close_honour_their_timeouts_with_a_hung_receiver(
    hung_dsn: str,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    spool_dir: Path,
    spooled: bool,
) -> None:
    transport = make_transport(hung_dsn, spool_dir=spool_dir if spooled else None, read_timeout=5.0)
    events = [make_event(i) for i in range(20)]
    for event in events:
        transport.capture_event(event)
    time.sleep(0.1)  # the thread is inside its first POST now

    started = time.monotonic()
    flushed = transport.flush(0.5)
    flush_took = time.monotonic() - started
    started = time.monotonic()
    transport.close(0.5)
    close_took = time.monotonic() - started

    assert flush_took < 0.7
    assert close_took < 0.7
    # With a spool everything is on disk, though the server never answered: in the journal or
    # in spool files.
    assert flushed is spooled
    if spooled:
        assert sorted(event_ids_on_disk(spool_dir)) == sorted(e["event_id"] for e in events)


def test_events_after_close_go_to_the_spool(
    closed_dsn: str, make_transport: MakeTransport, make_event: MakeEvent, spool_dir: Path
) -> None:
    transport = make_transport(closed_dsn, spool_dir=spool_dir)
    transport.close(0.5)

    transport.capture_event(make_event(0))

    assert len(os.listdir(spool_dir)) == 1


def test_nothing_raises_into_the_caller_when_everything_fails(
    closed_dsn: str,
    make_transport: MakeTransport,
    make_event: MakeEvent,
    tmp_path: Path,
    allow_internal_errors: None,
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    transport = make_transport(closed_dsn, spool_dir=not_a_directory, queue_size=3)
    circular: dict[str, Any] = {"message": "loop"}
    circular["self"] = circular

    assert transport.spool_dir is None
    transport.capture_event(circular)
    for i in range(300):
        transport.capture_event(make_event(i))
    transport.capture_event({"event_id": 42, "extra": {1j: object()}})
    transport.record_lost_event("before_send", "error", -1)
    assert transport.flush(0.2) is False
    transport.close(0.2)
    transport.close(0.2)
    transport.capture_event(make_event(301))  # closed, and no spool: dropped and counted
    assert transport.flush(0.1) is True

    dropped = transport.stats.dropped
    assert dropped[("internal_sdk_error", "error")] >= 1
    assert dropped[("queue_overflow", "error")] >= 290
