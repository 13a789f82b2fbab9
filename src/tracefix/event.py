"""The event: one captured exception, as every stage of tracefix sees it.

The wire form is a subset of Sentry's event schema
(develop.sentry.dev/sdk/data-model/event-payloads), so an event recorded by ``tracefix run``,
sent by tracefix's SDK or sent by sentry-sdk reads the same. Ordering follows Sentry:
``exceptions`` runs from the first raised (the root cause) to the last, and each ``frames``
list runs from the outermost call to the frame that raised.

What tracefix adds lives under ``contexts``: ``flask`` (which contexts were active, which app)
and ``entry`` (the argv, working directory and pytest node id needed to run the failure again).
``from_dict`` accepts events that lack them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any


@dataclass(frozen=True)
class Frame:
    """One stack frame. ``filename`` is relative to the project root for in-app frames."""

    filename: str
    function: str
    lineno: int | None = None
    module: str | None = None
    abs_path: str | None = None
    context_line: str | None = None
    pre_context: tuple[str, ...] = ()
    post_context: tuple[str, ...] = ()
    in_app: bool = False
    vars: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "filename": self.filename,
            "function": self.function,
            "in_app": self.in_app,
        }
        for key in ("lineno", "module", "abs_path", "context_line"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.pre_context:
            data["pre_context"] = list(self.pre_context)
        if self.post_context:
            data["post_context"] = list(self.post_context)
        if self.vars:
            data["vars"] = dict(self.vars)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        return cls(
            filename=str(data.get("filename") or data.get("abs_path") or "<unknown>"),
            function=str(data.get("function") or "<unknown>"),
            lineno=data.get("lineno"),
            module=data.get("module"),
            abs_path=data.get("abs_path"),
            context_line=data.get("context_line"),
            pre_context=tuple(data.get("pre_context") or ()),
            post_context=tuple(data.get("post_context") or ()),
            in_app=bool(data.get("in_app", False)),
            vars={str(k): _as_text(v) for k, v in (data.get("vars") or {}).items()},
        )


@dataclass(frozen=True)
class ExceptionInfo:
    """One exception of a chain, with the frames it travelled through."""

    type: str
    value: str
    module: str | None = None
    frames: tuple[Frame, ...] = ()
    mechanism: str = "generic"
    handled: bool = False
    thread_id: int | None = None

    @property
    def first_line(self) -> str:
        """The message's first line: what Flask's context errors are matched on."""
        return self.value.strip().splitlines()[0] if self.value.strip() else ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "value": self.value,
            "mechanism": {"type": self.mechanism, "handled": self.handled},
            "stacktrace": {"frames": [frame.to_dict() for frame in self.frames]},
        }
        if self.module is not None:
            data["module"] = self.module
        if self.thread_id is not None:
            data["thread_id"] = self.thread_id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExceptionInfo:
        mechanism = data.get("mechanism") or {}
        stacktrace = data.get("stacktrace") or {}
        return cls(
            type=str(data.get("type") or "Exception"),
            value=str(data.get("value") or ""),
            module=data.get("module"),
            frames=tuple(Frame.from_dict(f) for f in stacktrace.get("frames") or ()),
            mechanism=str(mechanism.get("type") or "generic"),
            handled=bool(mechanism.get("handled", False)),
            thread_id=data.get("thread_id"),
        )


@dataclass(frozen=True)
class FlaskState:
    """Flask's state in the failing thread when the exception was captured.

    The request fields are set when the exception was raised while handling a request (the
    SDK's Flask integration); ``tracefix run`` knows only which contexts were active.
    """

    app_context: bool = False
    request_context: bool = False
    app: str | None = None
    apps: tuple[str, ...] = ()
    endpoint: str | None = None
    blueprint: str | None = None
    method: str | None = None
    url: str | None = None
    url_rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "flask",
            "app_context": self.app_context,
            "request_context": self.request_context,
            "app": self.app,
            "apps": list(self.apps),
        }
        for key in _FLASK_REQUEST_FIELDS:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlaskState:
        return cls(
            app_context=bool(data.get("app_context", False)),
            request_context=bool(data.get("request_context", False)),
            app=data.get("app"),
            apps=tuple(data.get("apps") or ()),
            **{key: _optional_text(data.get(key)) for key in _FLASK_REQUEST_FIELDS},
        )


_FLASK_REQUEST_FIELDS = ("endpoint", "blueprint", "method", "url", "url_rule")


@dataclass(frozen=True)
class CeleryTask:
    """The Celery task that raised: its name finds the code, its id the worker's log lines."""

    task: str | None = None
    task_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "celery", "task": self.task, "task_id": self.task_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CeleryTask:
        return cls(
            task=_optional_text(data.get("task")), task_id=_optional_text(data.get("task_id"))
        )


@dataclass(frozen=True)
class Entry:
    """How the failing code was started, so it can be run again."""

    argv: tuple[str, ...] = ()
    cwd: str | None = None
    test: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "entry", "argv": list(self.argv), "cwd": self.cwd, "test": self.test}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            argv=tuple(str(a) for a in data.get("argv") or ()),
            cwd=data.get("cwd"),
            test=data.get("test"),
        )


@dataclass(frozen=True)
class Event:
    """A captured exception: its chain, the thread it ran in, Flask's state and its entry."""

    exceptions: tuple[ExceptionInfo, ...]
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: float | None = None
    thread_name: str | None = None
    flask: FlaskState | None = None
    celery: CeleryTask | None = None
    entry: Entry = field(default_factory=Entry)
    release: str | None = None
    environment: str | None = None

    @property
    def exception(self) -> ExceptionInfo:
        """The exception that was raised last: the one the user saw."""
        return self.exceptions[-1]

    @property
    def frames(self) -> tuple[Frame, ...]:
        return self.exception.frames

    @property
    def in_thread(self) -> bool:
        return self.thread_name is not None and self.thread_name != "MainThread"

    def trigger_frame(self) -> Frame | None:
        """The last in-app frame: where project code handed over to Flask or an extension."""
        for frame in reversed(self.frames):
            if frame.in_app:
                return frame
        return None

    def to_dict(self) -> dict[str, Any]:
        contexts: dict[str, Any] = {"entry": self.entry.to_dict()}
        if self.flask is not None:
            contexts["flask"] = self.flask.to_dict()
        if self.celery is not None:
            contexts["celery"] = self.celery.to_dict()
        data: dict[str, Any] = {
            "event_id": self.event_id,
            "platform": "python",
            "level": "error",
            "exception": {"values": [exc.to_dict() for exc in self.exceptions]},
            "contexts": contexts,
            "extra": {"sys.argv": list(self.entry.argv)},
        }
        if self.timestamp is not None:
            data["timestamp"] = self.timestamp
        if self.thread_name is not None:
            data["threads"] = {
                "values": [{"name": self.thread_name, "current": True, "crashed": True}]
            }
        if self.release is not None:
            data["release"] = self.release
        if self.environment is not None:
            data["environment"] = self.environment
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Read a Sentry-shaped event. Raises ``ValueError`` when it carries no exception."""
        values = (data.get("exception") or {}).get("values") or []
        if not values:
            raise ValueError("the event carries no exception")
        contexts = data.get("contexts") or {}
        threads = (data.get("threads") or {}).get("values") or []
        thread_name = next(
            (t.get("name") for t in threads if t.get("crashed") or t.get("current")), None
        )
        entry = contexts.get("entry")
        if entry is None:
            argv = (data.get("extra") or {}).get("sys.argv") or ()
            entry = {"argv": argv}
        flask = contexts.get("flask")
        celery = contexts.get("celery")
        return cls(
            exceptions=tuple(ExceptionInfo.from_dict(v) for v in values),
            event_id=str(data.get("event_id") or uuid.uuid4().hex),
            timestamp=_as_float(data.get("timestamp")),
            thread_name=thread_name,
            flask=FlaskState.from_dict(flask) if flask else None,
            celery=CeleryTask.from_dict(celery) if celery else None,
            entry=Entry.from_dict(entry),
            release=data.get("release"),
            environment=data.get("environment"),
        )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
