"""Sentry's envelope format: what the SDK POSTs, what the disk spool stores, what a server reads.

An envelope is a JSON header line, then per item a JSON header line and the payload
(develop.sentry.dev/sdk/data-model/envelopes/)::

    {"event_id":"...","sent_at":"...","dsn":"...","sdk":{"name":"tracefix.python","version":"..."}}
    {"type":"event","length":41,"content_type":"application/json"}
    {"event_id":"...","level":"error",...}

Every item carries an explicit ``length`` so that payloads may hold newlines and parsers never
have to scan for one. Stdlib only: this module runs inside the users' apps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from tracefix import __version__
from tracefix.sdk.dsn import SDK_NAME
from tracefix.sdk.dsn import Dsn

SDK_INFO = {"name": SDK_NAME, "version": __version__}

# Item types map to the data categories that rate limits and client reports speak of
# (develop.sentry.dev/sdk/expected-features/rate-limiting/#definitions).
_CATEGORIES = {"event": "error", "client_report": "internal"}


class EnvelopeError(ValueError):
    """The bytes are not a well-formed envelope."""


@dataclass
class EnvelopeItem:
    """One item: its header (``type``, ``length``, ...) and its raw payload."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    @property
    def category(self) -> str:
        return category_of(self.type)

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [item.json() for item in self.items if item.type == "event"]

    def client_reports(self) -> list[dict[str, Any]]:
        return [item.json() for item in self.items if item.type == "client_report"]


def category_of(item_type: str) -> str:
    return _CATEGORIES.get(item_type, item_type)


def format_timestamp(value: datetime | float | None = None) -> str:
    """RFC 3339 in UTC with microseconds, as Sentry writes ``sent_at``."""
    if value is None:
        value = time.time()
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dump_json(value: Any) -> bytes:
    """Compact JSON. Values JSON cannot hold become their ``str``: one odd local must not cost
    the whole event."""
    return _ENCODER.encode(value).encode()


def _fallback(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unserialisable {type(value).__name__}>"


#: One encoder for every dump: ``json.dumps`` with any option builds a new one per call.
#: Without the circular reference check, which keeps a dict of every container it enters (half
#: the time of encoding an event): a circular value still fails, as ``RecursionError``.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_fallback, check_circular=False)
_HEX = frozenset("0123456789abcdef")
_EVENT_ITEM_HEAD = b'{"type":"event","length":%d,"content_type":"application/json"}\n'


#: The last ``modules`` an event carried, and its JSON, in one tuple (threads replace it whole).
#: Every event of a process carries the same installed packages, and encoding them is a third
#: of encoding the event; comparing two dicts is a fraction of that.
_modules_json: tuple[dict[str, Any], bytes] = ({}, b"{}")


def serialize_event(event: dict[str, Any], event_id: str, dsn: Dsn | str | None) -> bytes:
    """``serialize_envelope([("event", event)], event_id=event_id, dsn=dsn)``, the same
    envelope, made faster for what every event shares: the envelope header, the item header
    and the ``modules``."""
    if len(event_id) != 32 or not _HEX.issuperset(event_id):
        return serialize_envelope([("event", event)], event_id=event_id, dsn=dsn)
    global _modules_json
    modules = event.get("modules")
    if type(modules) is dict and modules:
        known, encoded = _modules_json
        if modules != known:
            encoded = dump_json(modules)
            _modules_json = (dict(modules), encoded)
        rest = {key: value for key, value in event.items() if key != "modules"}
        body = dump_json(rest)
        if len(body) > 2:
            body = b'%s,"modules":%s}' % (body[:-1], encoded)
        else:
            body = b'{"modules":%s}' % encoded
    else:
        body = dump_json(event)
    return b"".join(
        (
            _envelope_head(dsn) % event_id.encode(),
            _EVENT_ITEM_HEAD % len(body),
            body,
            b"\n",
        )
    )


_envelope_heads: dict[str | None, bytes] = {}


def _envelope_head(dsn: Dsn | str | None) -> bytes:
    """The envelope header line with ``%s`` where the event id goes."""
    key = None if dsn is None else str(dsn)
    head = _envelope_heads.get(key)
    if head is None:
        headers: dict[str, Any] = {"event_id": "@ID@"}
        if key is not None:
            headers["dsn"] = key
        headers["sdk"] = SDK_INFO
        head = dump_json(headers).replace(b"%", b"%%").replace(b'"@ID@"', b'"%s"', 1) + b"\n"
        if len(_envelope_heads) < 16:
            _envelope_heads[key] = head
    return head


def serialize_item(item_type: str, payload: Any) -> bytes:
    """One item, header line and payload, newline-terminated. ``payload`` is bytes already
    serialised, or a value to dump as JSON."""
    body = payload if isinstance(payload, bytes) else dump_json(payload)
    header = {"type": item_type, "length": len(body), "content_type": "application/json"}
    return b"".join((dump_json(header), b"\n", body, b"\n"))


def serialize_envelope(
    items: Iterable[tuple[str, Any]],
    *,
    event_id: str | None = None,
    dsn: Dsn | str | None = None,
    sent_at: datetime | float | str | None = None,
) -> bytes:
    """``items`` are ``(type, payload)`` pairs, e.g. ``[("event", event_dict)]``."""
    headers: dict[str, Any] = {}
    if event_id is not None:
        headers["event_id"] = event_id
    if sent_at is not None:
        headers["sent_at"] = sent_at if isinstance(sent_at, str) else format_timestamp(sent_at)
    if dsn is not None:
        headers["dsn"] = str(dsn)
    headers["sdk"] = SDK_INFO
    parts = [dump_json(headers), b"\n"]
    parts.extend(serialize_item(item_type, payload) for item_type, payload in items)
    return b"".join(parts)


def with_sent_at(
    envelope: bytes, sent_at: datetime | float | None = None, *, checked: bool = False
) -> bytes:
    """The same envelope with ``sent_at`` set to now: spooled envelopes are written before they
    are sent, and ``sent_at`` lets the server correct for the client's clock. ``checked``: the
    header is known to be a JSON object (``serialize_envelope`` wrote it, or ``parse_envelope``
    read it), so that one without ``sent_at`` gets it spliced in, not parsed and dumped again."""
    header_line, newline, rest = envelope.partition(b"\n")
    if checked and header_line.startswith(b'{"') and b'"sent_at"' not in header_line:
        stamp = format_timestamp(sent_at).encode()
        return b'{"sent_at":"%s",%s%s%s' % (stamp, header_line[1:], newline, rest)
    headers = json.loads(header_line)
    if not isinstance(headers, dict):
        raise EnvelopeError("the envelope header is not a JSON object")
    headers["sent_at"] = format_timestamp(sent_at)
    return dump_json(headers) + newline + rest


def client_report(
    discarded: Mapping[tuple[str, str], int], timestamp: float | None = None
) -> dict[str, Any]:
    """A ``client_report`` payload (develop.sentry.dev/sdk/telemetry/client-reports/) from
    counts keyed by ``(reason, category)``."""
    return {
        "timestamp": format_timestamp(timestamp),
        "discarded_events": [
            {"reason": reason, "category": category, "quantity": quantity}
            for (reason, category), quantity in sorted(discarded.items())
            if quantity > 0
        ],
    }


def parse_envelope(data: bytes) -> Envelope:
    """Parse an envelope; items without ``length`` run to the next newline, as the format
    allows. Raises ``EnvelopeError`` on anything malformed."""
    header_line, pos = _line(data, 0)
    headers = _json_object(header_line, "envelope header")
    envelope = Envelope(headers)
    while pos < len(data):
        item_line, pos = _line(data, pos)
        if not item_line.strip():
            continue  # a trailing newline, or blank lines between items
        item_headers = _json_object(item_line, "item header")
        length = item_headers.get("length")
        if length is None:
            payload, pos = _line(data, pos)
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise EnvelopeError(f"bad item length {length!r}")
            payload = data[pos : pos + length]
            if len(payload) != length:
                raise EnvelopeError(f"item payload is {len(payload)} bytes, not {length}")
            pos += length
            if data[pos : pos + 1] == b"\n":
                pos += 1
        envelope.items.append(EnvelopeItem(item_headers, payload))
    return envelope


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\n", pos)
    if end == -1:
        return data[pos:], len(data)
    return data[pos:end], end + 1


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise EnvelopeError(f"the {what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EnvelopeError(f"the {what} is not a JSON object")
    return value
