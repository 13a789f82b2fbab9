from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest

with warnings.catch_warnings():
    # sentry_sdk imports eventlet when it is installed (gunicorn's eventlet workers), which
    # warns that it is deprecated as it is imported.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from sentry_sdk.envelope import Envelope as SentryEnvelope
    from sentry_sdk.envelope import Item as SentryItem
    from sentry_sdk.envelope import PayloadRef

from tracefix.sdk.dsn import Dsn
from tracefix.sdk.envelope import EnvelopeError
from tracefix.sdk.envelope import client_report
from tracefix.sdk.envelope import parse_envelope
from tracefix.sdk.envelope import serialize_envelope
from tracefix.sdk.envelope import with_sent_at

MakeEvent = Callable[..., dict[str, Any]]
DSN = Dsn.parse("https://public@errors.example.com/42")


def test_round_trip(make_event: MakeEvent) -> None:
    event = make_event(1, message="line one\nline two")
    report = client_report({("queue_overflow", "error"): 3}, timestamp=0)
    data = serialize_envelope(
        [("event", event), ("client_report", report)],
        event_id=event["event_id"],
        dsn=DSN,
        sent_at=0,
    )

    envelope = parse_envelope(data)

    assert envelope.headers["event_id"] == event["event_id"]
    assert envelope.headers["dsn"] == "https://public@errors.example.com/42"
    assert envelope.headers["sent_at"] == "1970-01-01T00:00:00.000000Z"
    assert envelope.headers["sdk"]["name"] == "tracefix.python"
    assert [item.type for item in envelope.items] == ["event", "client_report"]
    assert envelope.items[0].headers["length"] == len(envelope.items[0].payload)
    assert envelope.items[0].headers["content_type"] == "application/json"
    assert envelope.events() == [json.loads(json.dumps(event))]
    assert envelope.client_reports() == [
        {
            "timestamp": "1970-01-01T00:00:00.000000Z",
            "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 3}],
        }
    ]


def test_sentry_sdk_parses_our_envelope(make_event: MakeEvent) -> None:
    event = make_event(2)
    report = client_report({("ratelimit_backoff", "error"): 2, ("before_send", "error"): 1})
    data = serialize_envelope(
        [("event", event), ("client_report", report)], event_id=event["event_id"], dsn=DSN
    )

    parsed = SentryEnvelope.deserialize(data)

    assert parsed.headers["event_id"] == event["event_id"]
    assert parsed.headers["dsn"] == str(DSN)
    assert parsed.get_event() == json.loads(json.dumps(event))
    assert [item.type for item in parsed.items] == ["event", "client_report"]
    assert [item.data_category for item in parsed.items] == ["error", "internal"]
    assert json.loads(parsed.items[1].payload.get_bytes()) == report


def test_we_parse_sentry_sdk_envelope(make_event: MakeEvent) -> None:
    event = make_event(3)
    sentry = SentryEnvelope(headers={"event_id": event["event_id"]})
    sentry.add_item(SentryItem(payload=PayloadRef(json=event), type="event"))
    sentry.add_item(SentryItem(payload=PayloadRef(bytes=b"raw\nbytes"), type="attachment"))

    envelope = parse_envelope(sentry.serialize())

    assert envelope.headers == {"event_id": event["event_id"]}
    assert envelope.events() == [event]
    assert envelope.items[1].payload == b"raw\nbytes"


def test_items_without_length_run_to_the_newline() -> None:
    data = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{"message":"hi"}\n'

    envelope = parse_envelope(data)

    assert envelope.events() == [{"message": "hi"}]


def test_with_sent_at_stamps_only_the_header(make_event: MakeEvent) -> None:
    data = serialize_envelope([("event", make_event())], event_id="a" * 32)

    stamped = with_sent_at(data, 1_700_000_000.5)

    assert parse_envelope(stamped).headers["sent_at"] == "2023-11-14T22:13:20.500000Z"
    assert stamped.partition(b"\n")[2] == data.partition(b"\n")[2]


def test_with_sent_at_splices_into_a_checked_header(make_event: MakeEvent) -> None:
    data = serialize_envelope([("event", make_event())], event_id="a" * 32, dsn="http://k@h/1")

    spliced = with_sent_at(data, 1_700_000_000.5, checked=True)

    assert (
        parse_envelope(spliced).headers
        == parse_envelope(with_sent_at(data, 1_700_000_000.5)).headers
    )
    assert spliced.partition(b"\n")[2] == data.partition(b"\n")[2]
    # Stamped already: stamped again in place, never twice.
    again = with_sent_at(spliced, 1_700_000_001.0, checked=True)
    assert again.partition(b"\n")[0].count(b"sent_at") == 1
    assert parse_envelope(again).headers["sent_at"] == "2023-11-14T22:13:21.000000Z"


def test_values_json_cannot_hold_become_strings() -> None:
    data = serialize_envelope([("event", {"extra": {"when": object, "raw": b"x"}})])

    (event,) = parse_envelope(data).events()

    assert event["extra"] == {"when": "<class 'object'>", "raw": "b'x'"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json\n", id="header not JSON"),
        pytest.param(b"[1]\n", id="header not an object"),
        pytest.param(b'{}\n{"type":"event","length":100}\n{}', id="payload shorter than length"),
        pytest.param(b'{}\n{"type":"event","length":-1}\n{}', id="negative length"),
        pytest.param(b"{}\n{oops\n", id="item header not JSON"),
    ],
)
def test_malformed_envelopes_raise_envelope_error(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        parse_envelope(data)


def test_client_report_leaves_out_zero_counts() -> None:
    report = client_report({("queue_overflow", "error"): 0, ("send_error", "error"): 1})

    assert report["discarded_events"] == [
        {"reason": "send_error", "category": "error", "quantity": 1}
    ]
