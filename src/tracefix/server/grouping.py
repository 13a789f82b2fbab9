"""Grouping, pure: which issue an event belongs to.

The fingerprint hashes the exception types and the in-app frames: module, function, and the
source line with its spacing normalised. Not line numbers, which move with every unrelated
edit above. The same message raised from two code paths (a thread started by a view, a seed
script) makes two issues, since each needs its own fix. An SDK-sent ``fingerprint`` wins;
``{{ default }}`` in it stands for the default one (Sentry's convention).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_MARK = "{{ default }}"
_NUMBERS = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b|\d+", re.IGNORECASE)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Grouping:
    fingerprint: str
    title: str
    exception_type: str
    culprit: str


def group(event: dict[str, Any]) -> Grouping:
    exceptions = exception_values(event)
    last = exceptions[-1] if exceptions else {}
    exception_type = str(last.get("type") or "")
    return Grouping(
        fingerprint=_fingerprint(event, exceptions),
        title=_title(event, last),
        exception_type=exception_type[:200],
        culprit=_culprit(event, last),
    )


def fingerprint(event: dict[str, Any]) -> str:
    """``group(event).fingerprint`` alone: what the intake needs to find an event's issue."""
    return _fingerprint(event, exception_values(event))


def _fingerprint(event: dict[str, Any], exceptions: list[dict[str, Any]]) -> str:
    default = _default_parts(event, exceptions)
    custom = event.get("fingerprint")
    if isinstance(custom, list) and custom and all(isinstance(p, str) for p in custom):
        parts = [p for piece in custom for p in (default if piece == DEFAULT_MARK else [piece])]
    else:
        parts = default
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def exception_values(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The exception chain, innermost cause first and the raised one last (Sentry's order)."""
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    return [v for v in values or () if isinstance(v, dict)] if isinstance(values, list) else []


def frames_of(exception: dict[str, Any]) -> list[dict[str, Any]]:
    stacktrace = exception.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _default_parts(event: dict[str, Any], exceptions: list[dict[str, Any]]) -> list[str]:
    parts: list[str] = []
    for exception in exceptions:
        parts.append(str(exception.get("type") or ""))
        frames = frames_of(exception)
        in_app = [f for f in frames if f.get("in_app")] or frames
        for frame in in_app:
            parts.append(_frame_key(frame))
        if not frames:
            parts.append(normalise_message(str(exception.get("value") or "")))
    if not parts:
        parts.append(normalise_message(_message(event)))
    return parts


def _frame_key(frame: dict[str, Any]) -> str:
    where = frame.get("module") or frame.get("filename") or frame.get("abs_path") or "?"
    line = frame.get("context_line")
    source = _SPACES.sub(" ", line.strip()) if isinstance(line, str) else ""
    return f"{where}:{frame.get('function') or '?'}:{source}"


def normalise_message(message: str) -> str:
    """A message with its variable parts (numbers, ids, quoted values) blanked."""
    return _NUMBERS.sub("N", _QUOTED.sub("Q", message)).strip()


def _message(event: dict[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        text = logentry.get("formatted") or logentry.get("message")
        if isinstance(text, str):
            return text
    message = event.get("message")
    if isinstance(message, dict):
        message = message.get("formatted") or message.get("message")
    return message if isinstance(message, str) else ""


def _title(event: dict[str, Any], last: dict[str, Any]) -> str:
    if last:
        kind = str(last.get("type") or "Error")
        value = str(last.get("value") or "").strip().splitlines()
        return (f"{kind}: {value[0]}" if value else kind)[:500]
    return (_message(event).strip().splitlines() or ["<no message>"])[0][:500]


def _culprit(event: dict[str, Any], last: dict[str, Any]) -> str:
    frames = frames_of(last) if last else []
    in_app = [f for f in frames if f.get("in_app")] or frames
    if in_app:
        frame = in_app[-1]
        where = frame.get("module") or frame.get("filename") or "?"
        return f"{where} in {frame.get('function') or '?'}"[:500]
    culprit = event.get("culprit") or event.get("transaction")
    return str(culprit)[:500] if culprit else ""
