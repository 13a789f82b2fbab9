"""Sentry's ingest protocol, pure: from a request's bytes and headers to the events to store.

What a Sentry server accepts is what this accepts (develop.sentry.dev/sdk/envelopes/ and
/sdk/overview/#authentication): the public key in ``X-Sentry-Auth``, ``Authorization`` or the
``sentry_key`` query parameter (or the envelope header's ``dsn``); bodies compressed with
gzip, deflate or brotli; ``/store/`` bodies as JSON, or base64 of zlib from old clients.
Envelope items other than events are accepted and ignored. Every refusal is an
``IngestError`` carrying the HTTP status and a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from tracefix.sdk.envelope import EnvelopeError
from tracefix.sdk.envelope import parse_envelope
from tracefix.server.grouping import fingerprint

#: Envelope item types that carry an error event to group.
EVENT_ITEMS = frozenset({"event"})
_KEY_PAIR = re.compile(r"(\w+)\s*=\s*([^,\s]+)")
_HEX_32 = re.compile(r"^[0-9a-f]{32}$")


def load_json(data: bytes) -> Any:
    """``json.loads``, two to three times faster on an event: orjson reads what it can (it
    took 25 µs where ``json`` took 61 on the benchmark's 8 KiB events, which every ingest
    request parses), and ``json`` what orjson refuses but Python's reader accepts (``NaN``,
    integers past 64 bits, lone surrogates), or raises its own ``ValueError``."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


class IngestError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class IncomingEvent:
    """An event to store: its id, its JSON as bytes, and what is indexed from it.

    ``fingerprint`` is computed here, where the JSON is parsed anyway, so that the intake can
    file the event in its issue without parsing it again; None leaves it to the digest.
    """

    event_id: str
    payload: bytes
    release: str | None
    environment: str | None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Limits:
    max_decoded_bytes: int
    max_event_bytes: int


def public_key(auth_headers: Iterable[str | None], query_key: str | None) -> str | None:
    """The DSN's public key, from where SDKs put it: the ``X-Sentry-Auth`` or
    ``Authorization`` header's ``sentry_key``, or the query's; None when absent."""
    for value in auth_headers:
        if value and value.lower().startswith("sentry"):
            pairs = dict(_KEY_PAIR.findall(value[len("sentry") :]))
            if key := pairs.get("sentry_key"):
                return str(key)
    return query_key or None


def key_from_dsn(dsn: Any) -> str | None:
    """The public key of an envelope header's ``dsn``."""
    if not isinstance(dsn, str):
        return None
    try:
        return urlsplit(dsn).username or None
    except ValueError:
        return None


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its ``Content-Encoding``; a decoded body over ``limit`` bytes is a 413
    (a compressed body can expand a thousandfold)."""
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 16, limit)
        elif coding == "deflate":
            try:
                body = _inflate(body, zlib.MAX_WBITS, limit)
            except IngestError:
                body = _inflate(body, -zlib.MAX_WBITS, limit)  # raw deflate, as some clients send
        elif coding == "br":
            body = _unbrotli(body, limit)
        else:
            raise IngestError(415, f"unsupported Content-Encoding {coding!r}")
    if len(body) > limit:
        raise IngestError(413, f"the body is over {limit} bytes")
    return body


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise IngestError(400, f"the body does not decompress: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise IngestError(413, f"the body is over {limit} bytes once decompressed")
    return out


def _unbrotli(data: bytes, limit: int) -> bytes:
    import brotli

    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        for start in range(0, len(data), 65536):
            out += decompressor.process(data[start : start + 65536])
            if len(out) > limit:
                raise IngestError(413, f"the body is over {limit} bytes once decompressed")
    except brotli.error as exc:
        raise IngestError(400, f"the body does not decompress: {exc}") from None
    return bytes(out)


def parse_envelope_body(body: bytes, limits: Limits) -> tuple[dict[str, Any], list[IncomingEvent]]:
    """The envelope's headers and its events."""
    try:
        envelope = parse_envelope(body)
    except EnvelopeError as exc:
        raise IngestError(400, f"malformed envelope: {exc}") from None
    events = []
    for item in envelope.items:
        if item.type not in EVENT_ITEMS:
            continue
        if len(item.payload) > limits.max_event_bytes:
            raise IngestError(413, f"an event is over {limits.max_event_bytes} bytes")
        events.append(incoming_event(item.payload, envelope.headers.get("event_id")))
    return envelope.headers, events


def parse_store_body(body: bytes, limits: Limits) -> IncomingEvent:
    """The event of a ``/store/`` request: JSON, or base64 of zlib (sentry-python before 1.0)."""
    stripped = body.lstrip()
    if stripped[:1] != b"{":
        try:
            body = zlib.decompress(base64.b64decode(stripped, validate=False))
        except (binascii.Error, zlib.error, ValueError):
            raise IngestError(400, "the body is neither JSON nor base64 of zlib") from None
    if len(body) > limits.max_event_bytes:
        raise IngestError(413, f"the event is over {limits.max_event_bytes} bytes")
    return incoming_event(body, None)


def incoming_event(payload: bytes, envelope_event_id: Any) -> IncomingEvent:
    try:
        event = load_json(payload)
    except ValueError as exc:
        raise IngestError(400, f"the event is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise IngestError(400, "the event is not a JSON object")
    event_id = _event_id(event.get("event_id")) or _event_id(envelope_event_id)
    if event_id is None:
        event_id = uuid.uuid4().hex
        event["event_id"] = event_id
        payload = json.dumps(event, separators=(",", ":")).encode()
    return IncomingEvent(
        event_id=event_id,
        payload=payload,
        release=_short_text(event.get("release"), 250),
        environment=_short_text(event.get("environment"), 64),
        fingerprint=_fingerprint_or_none(event),
    )


def _fingerprint_or_none(event: dict[str, Any]) -> str | None:
    """An event the grouping cannot read is still stored: the digest will say why."""
    try:
        return fingerprint(event)
    except Exception:
        return None


def _event_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.replace("-", "").lower()
    return value if _HEX_32.match(value) else None


def _short_text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None
