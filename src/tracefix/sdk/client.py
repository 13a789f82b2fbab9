"""The client: builds one event per exception, scrubs it and hands it to the transport.

The same builder as ``tracefix run`` (``capture/_hook/tracefix_capture.py``) makes the event,
so the fix engine reads production events and recorded ones alike. What the SDK adds around
it: release, environment, server name, installed packages, breadcrumbs, and whatever the
integration that caught the exception knows (the Flask request, the Celery task).

Speed is a contract (issue 4): an exception is checked against those already sent *before*
anything is built (getsentry/sentry-python#4365 builds every Flask error twice); only in-app
frames get locals, as short ``reprlib`` reprs; the package list is read once per process; the
event is a plain dict, never copied deeply; JSON encoding and I/O are the transport's, off the
calling thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from tracefix import __version__
from tracefix.sdk import _internal
from tracefix.sdk._internal import capture_internal_errors
from tracefix.sdk._internal import logger
from tracefix.sdk.dsn import SDK_NAME
from tracefix.sdk.dsn import Dsn
from tracefix.sdk.integrations import Integration
from tracefix.sdk.integrations import setup_integrations
from tracefix.sdk.scrubber import Scrubber
from tracefix.sdk.transport import Transport

if TYPE_CHECKING:
    from tracefix.capture._hook import tracefix_capture as builder
else:
    builder = _internal.load_builder()

Event = dict[str, Any]
Hint = dict[str, Any]
BeforeSend = Callable[[Event, Hint], "Event | None"]
Processor = Callable[[Event], None]
#: A breadcrumb as it is kept until an event needs it: (timestamp, level, category, message).
Breadcrumb = tuple[float, str, str, str]

#: Exception messages and log messages longer than this are cut (a 10 MB message is a bug,
#: not a diagnosis).
MAX_MESSAGE = 8192
#: The attribute that marks an exception as sent, so no integration builds it again.
CAPTURED_MARK = "__tracefix_captured__"


@dataclass(frozen=True)
class Options:
    """What ``init`` was given, resolved (see ``tracefix.sdk.init`` for each option)."""

    dsn: Dsn | None = None
    release: str | None = None
    environment: str = "production"
    server_name: str | None = None
    send_default_pii: bool = False
    before_send: BeforeSend | None = None
    in_app_root: str = ""
    max_breadcrumbs: int = 100
    include_local_variables: bool = True
    shutdown_timeout: float = 2.0
    debug: bool = False


class Client:
    """One configuration of the SDK: its options, transport and enabled integrations.

    The client with no transport is disabled: every method is a no-op. Hooks look the active
    client up with ``get_client()`` each time they run.
    """

    def __init__(
        self,
        options: Options,
        transport: Transport | None = None,
        integrations: Mapping[str, Integration] | None = None,
    ) -> None:
        self.options = options
        self.transport = transport
        self.integrations: dict[str, Integration] = dict(integrations or {})
        self.breadcrumbs: deque[Breadcrumb] = deque(maxlen=max(options.max_breadcrumbs, 0))
        self.scrubber = Scrubber(send_default_pii=options.send_default_pii)
        #: The command line the process was started with (``tracefix run``'s, when it ran us),
        #: and the directory it was given in, read once: ``os.getcwd`` is a system call, which
        #: on every event would let the transport's thread take the GIL.
        self._argv = tuple(builder.entry_argv())
        self._cwd = builder.working_directory()
        self._integration_names = tuple(sorted(self.integrations))

    @property
    def is_active(self) -> bool:
        return self.transport is not None

    def get_integration(self, identifier: str) -> Integration | None:
        """The enabled integration called ``identifier``, or None: the guard of every hook."""
        return self.integrations.get(identifier)

    def add_breadcrumb(self, level: str, category: str, message: str) -> None:
        if self.transport is not None:
            self.breadcrumbs.append((time.time(), level, category, message))

    def capture_exception(
        self,
        error: BaseException | None,
        *,
        mechanism: str = "generic",
        handled: bool = True,
        level: str = "error",
        thread: tuple[str, int | None] | None = None,
        processor: Processor | None = None,
        hint: Hint | None = None,
    ) -> str | None:
        """Send ``error`` once; return its event id, or None when nothing was sent.

        Nothing is sent when the client is disabled, when ``error`` was already sent (by any
        integration: Flask's signal and then Flask's own log record of the same error make one
        event) or when ``before_send`` drops it. ``processor`` adds what the caller knows to
        the event; it runs only once the event is being built. Never raises.

        An exception raised and captured while an event is being built in the same thread (a
        ``__repr__`` or ``before_send`` that logs an error) is not captured: that way lies
        recursion.
        """
        transport = self.transport
        if transport is None or error is None or _building.active:
            return None
        if not _mark_captured(error):
            return None
        _building.active = True
        try:
            with capture_internal_errors():
                return self._capture(
                    transport, error, mechanism, handled, level, thread, processor, hint
                )
        finally:
            _building.active = False
        return None

    def _capture(
        self,
        transport: Transport,
        error: BaseException,
        mechanism: str,
        handled: bool,
        level: str,
        thread: tuple[str, int | None] | None,
        processor: Processor | None,
        hint: Hint | None,
    ) -> str | None:
        options = self.options
        thread_name, thread_id = thread if thread is not None else (None, None)
        event = builder.build_event(
            type(error),
            error,
            error.__traceback__,
            thread_name=thread_name,
            thread_id=thread_id,
            mechanism=mechanism,
            root=options.in_app_root,
            argv=list(self._argv),
            cwd=self._cwd,
            handled=handled,
            include_locals=options.include_local_variables,
            library_context=False,
        )
        for value in event["exception"]["values"]:
            if len(value["value"]) > MAX_MESSAGE:
                value["value"] = value["value"][:MAX_MESSAGE] + "..."
        event["level"] = level
        if options.release is not None:
            event["release"] = options.release
        event["environment"] = options.environment
        if options.server_name is not None:
            event["server_name"] = options.server_name
        event["sdk"] = {
            "name": SDK_NAME,
            "version": __version__,
            "integrations": list(self._integration_names),
            "packages": [{"name": "pypi:tracefix", "version": __version__}],
        }
        event["modules"] = dict(installed_modules())
        if self.breadcrumbs:
            event["breadcrumbs"] = {
                "values": [
                    {"type": "log", "timestamp": ts, "level": lvl, "category": cat, "message": msg}
                    for ts, lvl, cat, msg in list(self.breadcrumbs)
                ]
            }
        if processor is not None:
            processor(event)

        before_send = options.before_send
        if before_send is not None:
            full_hint: Hint = {"exc_info": (type(error), error, error.__traceback__)}
            full_hint.update(hint or {})
            result = _call_before_send(before_send, event, full_hint)
            if result is None:
                transport.record_lost_event("before_send")
                return None
            event = result
        self.scrubber.scrub_event(event)
        transport.capture_event(event)
        return str(event.get("event_id") or "") or None

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for queued events; True when none is left."""
        transport = self.transport
        if transport is None:
            return True
        with capture_internal_errors():
            return transport.flush(timeout)
        return False

    def close(self, timeout: float) -> None:
        """Flush for up to ``timeout`` seconds, then stop the transport; the client is disabled."""
        transport, self.transport = self.transport, None
        if transport is not None:
            with capture_internal_errors():
                transport.close(timeout)


class _Building(threading.local):
    """Whether this thread is building an event (see ``Client.capture_exception``)."""

    active = False


_building = _Building()


def _call_before_send(before_send: BeforeSend, event: Event, hint: Hint) -> Event | None:
    """The user's ``before_send``: an error in it drops the event (and says so), as in sentry."""
    try:
        result = before_send(event, hint)
    except Exception:
        logger.warning("before_send raised: the event is dropped", exc_info=True)
        return None
    if result is not None and not isinstance(result, dict):
        logger.warning("before_send returned %s, not a dict or None: dropped", type(result))
        return None
    return result


def safe_repr(value: object) -> str:
    """A short repr of any object that never raises (the builder's, as for locals)."""
    return builder.safe_repr(value)


_recent_unmarkable: deque[BaseException] = deque(maxlen=64)


def _mark_captured(error: BaseException) -> bool:
    """Mark ``error`` as sent; False if it already was.

    An attribute, because exceptions cannot be weakly referenced. The rare exception whose
    attributes cannot be set is remembered among the last 64 instead.
    """
    try:
        attributes = vars(error)
    except TypeError:
        attributes = None
    if attributes is not None:
        if attributes.get(CAPTURED_MARK):
            return False
        try:
            setattr(error, CAPTURED_MARK, True)
            return True
        except Exception:
            pass
    if any(seen is error for seen in _recent_unmarkable):
        return False
    _recent_unmarkable.append(error)
    return True


def is_captured(error: BaseException) -> bool:
    """Whether ``error`` was already sent (the check every integration makes first)."""
    try:
        if vars(error).get(CAPTURED_MARK):
            return True
    except TypeError:
        pass
    return any(seen is error for seen in _recent_unmarkable)


_modules: dict[str, str] | None = None


def installed_modules() -> dict[str, str]:
    """The installed distributions, name to version, read once per process.

    Read from the ``*.dist-info`` / ``*.egg-info`` folder names on ``sys.path``: about 1 ms,
    where ``importlib.metadata`` takes 40 ms to import and parses every METADATA file.
    """
    global _modules
    if _modules is None:
        found: dict[str, str] = {}
        for entry in list(sys.path):
            try:
                names = os.listdir(entry or ".")
            except OSError:
                continue
            for name in names:
                if name.endswith(".dist-info"):
                    stem = name[: -len(".dist-info")]
                elif name.endswith(".egg-info"):
                    stem = name[: -len(".egg-info")]
                else:
                    continue
                project, _, version = stem.partition("-")
                version = version.partition("-py")[0]
                if project and version:
                    found.setdefault(project.lower().replace("_", "-"), version)
        _modules = found
    return _modules


# --- the active client ----------------------------------------------------------------------

DISABLED = Client(Options())
_client: Client = DISABLED
_init_lock = threading.Lock()

DSN_ENV = ("TRACEFIX_DSN", "SENTRY_DSN")
RELEASE_ENV = ("TRACEFIX_RELEASE", "SENTRY_RELEASE")


def get_client() -> Client:
    """The active client (a disabled one before ``init`` or after ``close``)."""
    return _client


def _bind(client: Client) -> None:
    global _client
    with _init_lock:
        previous, _client = _client, client
    if previous is not client and previous.is_active:
        previous.close(previous.options.shutdown_timeout)


def close(timeout: float) -> None:
    """Flush and stop the active client, and disable the SDK."""
    global _client
    with _init_lock:
        client, _client = _client, DISABLED
    client.close(timeout)


def init(
    dsn: str | None = None,
    *,
    release: str | None = None,
    environment: str | None = None,
    send_default_pii: bool = False,
    before_send: BeforeSend | None = None,
    integrations: Iterable[Integration] = (),
    disabled_integrations: Iterable[Integration | type[Integration] | str] = (),
    default_integrations: bool = True,
    transport: Transport | None = None,
    in_app_root: str | os.PathLike[str] | None = None,
    server_name: str | None = None,
    max_breadcrumbs: int = 100,
    include_local_variables: bool = True,
    shutdown_timeout: float = 2.0,
    debug: bool = False,
    **transport_options: Any,
) -> Client:
    """Start capturing. See ``tracefix.sdk.init`` for the options; this is the same function."""
    if debug:
        _internal.enable_debug_logging()
    dsn_text = dsn if dsn is not None else _first_env(DSN_ENV)
    parsed = Dsn.parse(dsn_text) if dsn_text else None
    if transport is not None and transport_options:
        raise TypeError(
            f"init() got transport options {sorted(transport_options)} with a transport: "
            "they configure the default transport only"
        )
    if parsed is None and transport is None:
        logger.debug("no DSN (argument, TRACEFIX_DSN or SENTRY_DSN): the SDK is disabled")
        _bind(DISABLED)
        return DISABLED

    root = os.path.realpath(in_app_root) if in_app_root else _default_root()
    if release is None:
        release = _first_env(RELEASE_ENV) or (
            _internal.git_head(root) if os.path.exists(os.path.join(root, ".git")) else None
        )
    options = Options(
        dsn=parsed,
        release=release,
        environment=environment or "production",
        server_name=server_name if server_name is not None else _hostname(),
        send_default_pii=send_default_pii,
        before_send=before_send,
        in_app_root=root,
        max_breadcrumbs=max_breadcrumbs,
        include_local_variables=include_local_variables,
        shutdown_timeout=shutdown_timeout,
        debug=debug,
    )
    enabled = setup_integrations(
        integrations, with_defaults=default_integrations, disabled=disabled_integrations
    )
    if transport is None:
        assert parsed is not None
        transport = _default_transport(parsed, transport_options)
    client = Client(options, transport, enabled)
    _bind(client)
    threading.Thread(
        target=_warm_up, args=(root,), name="tracefix.sdk.warm-up", daemon=True
    ).start()
    logger.debug("tracefix.sdk %s started: %s", __version__, sorted(enabled))
    return client


def _warm_up(root: str) -> None:
    """Fill, off the app's thread, what the first event would otherwise fill on it: the
    installed packages, the interpreter's library directories, and which of the imported
    modules are the app's (~300 files to resolve for a Flask app: 20-70 ms of the first
    ``capture_exception`` on this 2-core machine). Modules imported later are looked at when an
    event needs them."""
    try:
        installed_modules()
        builder.library_dirs()
        builder.in_app_modules(root)
    except Exception:
        logger.debug("tracefix: could not warm up the event builder", exc_info=True)


def _default_transport(dsn: Dsn, transport_options: dict[str, Any]) -> Transport:
    try:
        from tracefix.sdk.transport import HttpTransport
    except ImportError:
        logger.warning("tracefix.sdk: no HTTP transport in this version; events are dropped")
        return _DroppingTransport()
    transport: Transport = HttpTransport(dsn, **transport_options)
    return transport


class _DroppingTransport(Transport):
    """Counts events and sends none: what ``init`` falls back to without an HTTP transport."""

    def __init__(self) -> None:
        self.dropped = 0

    def capture_event(self, event: dict[str, Any]) -> None:
        self.dropped += 1

    def record_lost_event(self, reason: str, category: str = "error", quantity: int = 1) -> None:
        self.dropped += quantity

    def flush(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> None:
        return None


def _first_env(names: Iterable[str]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _default_root() -> str:
    cwd = os.getcwd()
    return _internal.git_toplevel(cwd) or os.path.realpath(cwd)


def _hostname() -> str | None:
    if hasattr(os, "uname"):
        return os.uname().nodename or None
    import socket

    try:
        return socket.gethostname()
    except OSError:
        return None
