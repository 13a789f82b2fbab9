"""Build and store Sentry-shaped events from inside the user's Python process.

This module runs in the user's interpreter, which may belong to another virtualenv with no
tracefix installed, and may be older than tracefix's own Python. So it imports nothing but the
standard library, stays compatible with Python 3.8, and imports lazily: it is loaded on every
interpreter start-up while ``tracefix run`` is active.

Nothing here may break the host program. Every public entry point swallows its own errors;
losing an event is always better than changing the user's program.

The runner reads what is written here: ``event-*.json`` (one per exception), ``leak-*.json``
(a Flask context left pushed) and ``hooked-*.json`` (proof that the hook ran in some process).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import reprlib
    import threading
    from collections.abc import Callable
    from collections.abc import Iterable
    from types import FrameType
    from types import TracebackType
    from typing import Any

    ThreadHook = Callable[[threading.ExceptHookArgs], object]

    Namespace = dict[str, Any]

CAPTURE_DIR_ENV = "TRACEFIX_CAPTURE_DIR"
PROJECT_ROOT_ENV = "TRACEFIX_PROJECT_ROOT"
ENTRY_ARGV_ENV = "TRACEFIX_ENTRY_ARGV"

CONTEXT_LINES = 5
MAX_VARS = 30
MAX_REPR = 200
MAX_CHAIN = 20
MAX_FRAMES = 400

#: Set by the pytest plugin once it has judged leaks test by test, so the exit check stays quiet.
leaks_reported = False

_sequence = 0
_library_dirs: tuple[str, ...] | None = None
_venv_dirs: dict[str, bool] = {}
_classified: dict[tuple[str, str], tuple[bool, str]] = {}
#: The exception ``sys.excepthook`` last recorded, so the exit check does not record it twice.
_last_uncaught: list[BaseException] = []


def capture_dir() -> str | None:
    return os.environ.get(CAPTURE_DIR_ENV) or None


def project_root() -> str:
    return os.path.realpath(os.environ.get(PROJECT_ROOT_ENV) or os.getcwd())


# --- writing -------------------------------------------------------------------------------


def write_record(kind: str, data: dict[str, Any]) -> None:
    """Write ``data`` as ``<kind>-<time>-<pid>-<n>.json``, atomically.

    The name sorts in capture order (within one process exactly, across processes by clock),
    and the temporary name starts with a dot so a reader never sees half a file.
    """
    import json
    import time

    global _sequence
    directory = capture_dir()
    if directory is None:
        return
    _sequence += 1
    name = f"{kind}-{time.time_ns():020d}-{os.getpid():08d}-{_sequence:06d}.json"
    temporary = os.path.join(directory, "." + name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(data, stream, default=repr)
    os.replace(temporary, os.path.join(directory, name))


def mark_hooked() -> None:
    """Leave proof that the hook ran, so the runner knows not to fall back to parsing stderr."""
    directory = capture_dir()
    if directory is None:
        return
    path = os.path.join(directory, f"hooked-{os.getpid():08d}.json")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(f'{{"pid": {os.getpid()}}}')


def record_exception(
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
    *,
    thread_name: str | None = None,
    thread_id: int | None = None,
    mechanism: str = "excepthook",
    test: str | None = None,
) -> None:
    """Record one uncaught exception. Never raises."""
    try:
        if capture_dir() is None or exc is None:
            return
        if mechanism == "excepthook":
            _last_uncaught[:] = [exc]
        event = build_event(
            exc_type,
            exc,
            tb,
            thread_name=thread_name,
            thread_id=thread_id,
            mechanism=mechanism,
            test=test,
        )
        write_record("event", event)
    except BaseException:
        pass


def current_test() -> str | None:
    """The test running now: replaced by the pytest plugin, when it is loaded."""
    return None


def watch_flask(flask: Any) -> None:
    """Record the exceptions Flask handles itself: a view's error becomes a 500 and a log line,
    and the program carries on (a script's test client, a dev server) as if nothing failed.
    Not those it propagates (testing, debug, ``PROPAGATE_EXCEPTIONS``): the excepthook or the
    pytest plugin records them, with more to say. Never raises."""
    try:
        flask.got_request_exception.connect(_record_request_exception, weak=False)
    except BaseException:
        pass


def _record_request_exception(sender: Any, exception: BaseException, **_: Any) -> None:
    try:
        propagate = sender.config.get("PROPAGATE_EXCEPTIONS")
        if propagate is None:
            propagate = sender.testing or sender.debug
        if propagate:
            return
    except BaseException:
        pass
    record_exception(
        type(exception),
        exception,
        exception.__traceback__,
        mechanism="flask",
        test=current_test(),
    )


def chained_thread_excepthook(
    previous: ThreadHook, current_test: Callable[[], str | None] = lambda: None
) -> ThreadHook:
    """A ``threading.excepthook`` that records the exception, then hands it to ``previous``."""

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            thread = args.thread
            record_exception(
                args.exc_type,
                args.exc_value,
                args.exc_traceback,
                thread_name=thread.name if thread is not None else None,
                thread_id=thread.ident if thread is not None else None,
                mechanism="threading",
                test=current_test(),
            )
        previous(args)

    thread_excepthook.tracefix = True  # type: ignore[attr-defined]
    return thread_excepthook


def record_unraisable(args: Any) -> None:
    """Record what ``sys.unraisablehook`` gets: errors in atexit callbacks, ``__del__``, GC."""
    if args.exc_value is not None:
        record_exception(
            args.exc_type, args.exc_value, args.exc_traceback, mechanism="unraisablehook"
        )


def record_last_uncaught() -> None:
    """Record the uncaught exception kept in ``sys.last_value``, if not recorded yet.

    For when a program installed its own ``sys.excepthook`` (rich, IPython, a CLI framework)
    over ours: the interpreter still keeps the exception there until exit. Only call it then:
    pytest also stores the exceptions of failed (and xfailed) tests there.
    """
    exc = getattr(sys, "last_value", None)
    if exc is None or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return
    if any(seen is exc for seen in _last_uncaught):
        return
    record_exception(type(exc), exc, getattr(sys, "last_traceback", None))


def record_leak(where: str, detail: str) -> None:
    try:
        write_record("leak", {"where": where, "detail": detail})
    except BaseException:
        pass


# --- the event -----------------------------------------------------------------------------


def build_event(
    exc_type: type[BaseException] | None,
    exc: BaseException,
    tb: TracebackType | None,
    *,
    thread_name: str | None = None,
    thread_id: int | None = None,
    mechanism: str = "excepthook",
    test: str | None = None,
    root: str | None = None,
    argv: list[str] | None = None,
    cwd: str | None = None,
    handled: bool = False,
    include_locals: bool = True,
    library_context: bool = True,
) -> dict[str, Any]:
    """The Sentry-shaped event that ``tracefix.event.Event.from_dict`` reads.

    ``root`` (the real path of the project) and ``argv`` default to what ``tracefix run`` put in
    the environment, ``cwd`` to the working directory now; the SDK passes its own (the
    directory ``argv`` was given in, read once). ``include_locals`` turns off the reprs of in-app
    locals, the only part of the event that runs the program's code (``__repr__``).
    ``library_context=False`` keeps source lines for in-app frames and the raising frame only
    (the SDK: a library's lines are known from its version, and cost time on every error).
    """
    import time

    if root is None:
        root = project_root()
    if thread_name is None:
        thread_name, current_id = _current_thread()
        thread_id = current_id if thread_id is None else thread_id
    values: list[dict[str, Any]] = []
    chain = exception_chain(exc)
    for position, link in enumerate(chain):
        is_last = position == len(chain) - 1
        link_tb = tb if is_last and tb is not None else link.__traceback__
        link_type = exc_type if is_last and exc_type is not None else type(link)
        value = {
            "type": getattr(link_type, "__qualname__", None) or link_type.__name__,
            "value": _safe_str(link),
            "module": getattr(link_type, "__module__", None),
            "mechanism": {"type": mechanism, "handled": handled},
            "stacktrace": {
                "frames": frames_of(
                    link_tb,
                    root,
                    include_locals=include_locals,
                    library_context=library_context,
                )
            },
        }
        if thread_id is not None:
            value["thread_id"] = thread_id
        values.append(value)
    if argv is None:
        argv = entry_argv()
    contexts: dict[str, Any] = {
        "entry": {
            "type": "entry",
            "argv": argv,
            "cwd": working_directory() if cwd is None else cwd,
            "test": test,
        },
    }
    flask = flask_state(root, _in_app_globals(chain, root))
    if flask is not None:
        contexts["flask"] = flask
    return {
        "event_id": new_event_id(),
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "exception": {"values": values},
        "threads": {"values": [_thread_entry(thread_name, thread_id)]},
        "contexts": contexts,
        "extra": {"sys.argv": argv},
    }


#: Random event ids, made 64 at a time (see ``new_event_id``).
_event_ids: list[str] = []
_EVENT_IDS_PER_READ = 64


def new_event_id() -> str:
    """A random id of 32 hex digits, as Sentry's ``event_id``.

    The random bytes are read for 64 ids at a time: ``os.urandom`` is a system call, and every
    system call lets another thread take the GIL, which a busy SDK thread then keeps for up to
    the switch interval (5 ms) while the app waits. A forked child drops the parent's unused
    ids (``_forget_event_ids``), so no two processes hand out the same one.
    """
    try:
        return _event_ids.pop()
    except IndexError:
        digits = os.urandom(16 * _EVENT_IDS_PER_READ).hex()
        ids = [digits[start : start + 32] for start in range(0, len(digits), 32)]
        event_id = ids.pop()
        _event_ids.extend(ids)
        return event_id


def _forget_event_ids() -> None:
    del _event_ids[:]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_event_ids)


def _thread_entry(name: str | None, thread_id: int | None) -> dict[str, Any]:
    """The crashed thread; its ``id`` is what each exception's ``thread_id`` points to."""
    entry: dict[str, Any] = {"name": name, "current": True, "crashed": True}
    if thread_id is not None:
        entry["id"] = thread_id
    return entry


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, oldest first.

    Follows the same rule as ``traceback``: an explicit cause wins, an implicit context counts
    unless ``raise ... from None`` suppressed it.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    chain.reverse()
    return chain


def _in_app_globals(chain: list[BaseException], root: str) -> list[Namespace]:
    """The module namespaces of the project frames an exception went through.

    A module whose import failed is gone from ``sys.modules`` by the time the hook runs, but its
    frame still holds its namespace, and with it the app it created before failing.
    """
    namespaces: dict[int, Namespace] = {}
    for link in chain:
        tb = link.__traceback__
        while tb is not None:
            frame_globals = tb.tb_frame.f_globals
            if id(frame_globals) not in namespaces:
                filename = frame_globals.get("__file__") or tb.tb_frame.f_code.co_filename
                if isinstance(filename, str) and classify_path(filename, root)[0]:
                    namespaces[id(frame_globals)] = frame_globals
            tb = tb.tb_next
    return list(namespaces.values())


def frames_of(
    tb: TracebackType | None,
    root: str,
    *,
    include_locals: bool = True,
    library_context: bool = True,
) -> list[dict[str, Any]]:
    """The frames of a traceback, outermost first.

    Without ``library_context``, only in-app frames and the frame that raised get source lines.
    """
    frames: list[dict[str, Any]] = []
    while tb is not None and len(frames) < MAX_FRAMES:
        try:
            frames.append(
                frame_dict(
                    tb.tb_frame,
                    tb.tb_lineno,
                    root,
                    include_locals=include_locals,
                    context=library_context or tb.tb_next is None,
                )
            )
        except Exception:
            pass
        tb = tb.tb_next
    return frames


_abs_paths: dict[str, str] = {}


def frame_dict(
    frame: FrameType,
    lineno: int | None,
    root: str,
    *,
    include_locals: bool = True,
    context: bool = True,
) -> dict[str, Any]:
    """One frame. ``context=False`` leaves out the source lines of a library frame."""
    code = frame.f_code
    filename = code.co_filename
    module_globals = frame.f_globals
    in_app, relative = classify_path(filename, root)
    abs_path = _abs_paths.get(filename)
    if abs_path is None:
        abs_path = os.path.abspath(filename) if _is_real_path(filename) else filename
        if len(_abs_paths) < 10_000:
            _abs_paths[filename] = abs_path
    data: dict[str, Any] = {
        "filename": relative if in_app else abs_path,
        "abs_path": abs_path,
        "function": code.co_name,
        "module": module_globals.get("__name__"),
        "lineno": lineno,
        "in_app": in_app,
    }
    if in_app or context:
        data.update(source_context(filename, lineno, module_globals))
    if in_app and include_locals:
        data["vars"] = safe_vars(frame.f_locals, is_module=code.co_name == "<module>")
    return data


def source_context(filename: str, lineno: int | None, module_globals: Namespace) -> dict[str, Any]:
    """The line that ran and ``CONTEXT_LINES`` lines either side, as ``linecache`` has them.

    Cut once per place: a process that fails repeatedly fails at the same few lines.
    """
    if not lineno:
        return {}
    key = (filename, lineno)
    cached = _contexts.get(key)
    if cached is None:
        cached = _read_context(filename, lineno, module_globals)
        if cached is None:
            return {}
        if _is_real_path(filename):  # "<string>" names many different sources
            if len(_contexts) >= 4096:
                _contexts.clear()
            _contexts[key] = cached
    line, pre, post = cached
    return {"context_line": line, "pre_context": list(pre), "post_context": list(post)}


_contexts: dict[tuple[str, int], tuple[str, tuple[str, ...], tuple[str, ...]]] = {}


def _read_context(
    filename: str, lineno: int, module_globals: Namespace
) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    import linecache

    try:
        lines = linecache.getlines(filename, module_globals)
    except Exception:
        return None
    if not lines or lineno > len(lines):
        return None
    index = lineno - 1

    def clean(line: str) -> str:
        return line.rstrip("\r\n")

    return (
        clean(lines[index]),
        tuple(clean(line) for line in lines[max(0, index - CONTEXT_LINES) : index]),
        tuple(clean(line) for line in lines[index + 1 : index + 1 + CONTEXT_LINES]),
    )


# --- paths ---------------------------------------------------------------------------------


def classify_path(filename: str, root: str) -> tuple[bool, str]:
    """Whether ``filename`` is the project's own code, and its POSIX path from ``root`` if so."""
    key = (filename, root)
    cached = _classified.get(key)
    if cached is not None:  # only absolute paths are cached: a relative one follows the cwd
        return cached
    if not os.path.isabs(filename):
        return _classify_path(filename, root)
    cached = _classified[key] = _classify_path(filename, root)
    return cached


def _classify_path(filename: str, root: str) -> tuple[bool, str]:
    if not _is_real_path(filename):
        return False, filename
    path = _realpath(os.path.abspath(filename))
    if not os.path.isfile(path):
        # A compiled module's frames name the source it was built from, relative to its build
        # directory (gevent's ``src/gevent/greenlet.py``): not a file of this project to fix.
        return False, filename
    prefix = root.rstrip(os.sep) + os.sep
    if path == root:
        relative = os.curdir
    elif path.startswith(prefix):
        relative = path[len(prefix) :]
    else:
        return False, path
    parts = relative.replace(os.sep, "/").split("/")
    if "site-packages" in parts or "dist-packages" in parts:
        return False, path
    if any(path.startswith(prefix) for prefix in library_dirs()):
        return False, path
    if inside_venv(os.path.dirname(path), root):
        return False, path
    return True, "/".join(parts)


#: ``os.path.realpath`` of the directories module files are in: a few dozen directories hold the
#: hundreds of files of a process's modules.
_real_dirs: dict[str, str] = {}


def _realpath(path: str) -> str:
    """``os.path.realpath`` of an absolute, normalised path, with its directory resolved once:
    one ``lstat`` for the file instead of one per component of its path. Classifying the ~300
    modules a Flask app imports took 40-60 ms of the first event's capture without it."""
    directory, name = os.path.split(path)
    real_directory = _real_dirs.get(directory)
    if real_directory is None:
        real_directory = os.path.realpath(directory)
        if len(_real_dirs) < 10_000:
            _real_dirs[directory] = real_directory
    candidate = os.path.join(real_directory, name)
    if not name or os.path.islink(candidate):
        return os.path.realpath(path)
    return candidate


def library_dirs() -> tuple[str, ...]:
    """The interpreter's own trees: the standard library, and the environment when it is a venv."""
    global _library_dirs
    if _library_dirs is None:
        import sysconfig

        dirs: set[str] = set()
        paths = sysconfig.get_paths()
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            if paths.get(key):
                dirs.add(os.path.realpath(paths[key]))
        if sys.prefix != sys.base_prefix:
            dirs.add(os.path.realpath(sys.prefix))
        _library_dirs = tuple(sorted(d.rstrip(os.sep) + os.sep for d in dirs))
    return _library_dirs


def inside_venv(directory: str, root: str) -> bool:
    """Whether a directory between ``root`` and ``directory`` is a virtualenv (has pyvenv.cfg)."""
    while len(directory) > len(root):
        cached = _venv_dirs.get(directory)
        if cached is None:
            cached = os.path.isfile(os.path.join(directory, "pyvenv.cfg"))
            _venv_dirs[directory] = cached
        if cached:
            return True
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return False


def _is_real_path(filename: str) -> bool:
    return bool(filename) and not (filename.startswith("<") and filename.endswith(">"))


# --- locals --------------------------------------------------------------------------------


def safe_vars(local_vars: Namespace, *, is_module: bool = False) -> dict[str, str]:
    """Bounded reprs of a frame's locals. A repr that raises or recurses cannot break capture.

    A module's frame shows its state only: not its dunders, imported modules, nor the classes
    and functions it defines (their source says all a ``<function f at 0x...>`` would).
    """
    result: dict[str, str] = {}
    try:
        items = list(local_vars.items())
    except Exception:
        return result
    for name, value in items:
        if len(result) >= MAX_VARS:
            break
        name = str(name)
        if is_module and (name.startswith("__") or type(value).__name__ in _DEFINITIONS):
            continue
        result[name] = safe_repr(value)
    return result


#: The types of what a module frame's variables leave out (by name: no import needed).
_DEFINITIONS = frozenset({"module", "type", "function", "builtin_function_or_method", "ABCMeta"})


def safe_repr(value: object) -> str:
    try:
        text = _repr_engine().repr(value)
    except BaseException:
        try:
            text = f"<{type(value).__name__} object (repr failed)>"
        except BaseException:
            text = "<object (repr failed)>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text


_repr_instance: reprlib.Repr | None = None
_CONTAINERS = (dict, list, tuple, set, frozenset, str, bytes)


def _repr_engine() -> reprlib.Repr:
    """A ``reprlib.Repr`` whose limits keep huge and recursive containers cheap to show."""
    global _repr_instance
    if _repr_instance is None:
        engine = _bounded_repr_class()()
        engine.maxlevel = 3
        engine.maxstring = MAX_REPR
        engine.maxother = MAX_REPR
        engine.maxlong = MAX_REPR
        engine.maxlist = engine.maxtuple = engine.maxset = engine.maxfrozenset = 20
        engine.maxdeque = engine.maxarray = 20
        engine.maxdict = 10
        _repr_instance = engine
    return _repr_instance


def _bounded_repr_class() -> type[reprlib.Repr]:
    """``reprlib.Repr`` with every container cut before it is walked, whatever its size.

    The stock class sorts a dict's keys and a set's items before it cuts them (``sorted()`` of
    a million keys for ten), shows bytes in full, and falls back to the full ``repr()`` of a
    subclass such as ``OrderedDict``: each is unbounded work for one local variable. And one
    item whose repr raises loses the whole container's repr.
    """
    import reprlib
    from itertools import islice

    class BoundedRepr(reprlib.Repr):
        def repr1(self, x: object, level: int) -> str:
            # One broken item spoils only its own place in its container's repr.
            try:
                return super().repr1(x, level)
            except Exception:
                return f"<{type(x).__name__} object (repr failed)>"

        def repr_dict(self, x: dict[Any, Any], level: int) -> str:
            if not x:
                return "{}"
            if level <= 0:
                return "{...}"
            pieces = [
                f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}"
                for key, value in islice(x.items(), self.maxdict)
            ]
            if len(x) > self.maxdict:
                pieces.append("...")
            return "{" + ", ".join(pieces) + "}"

        def repr_set(self, x: set[Any], level: int) -> str:
            if not x:
                return "set()"
            return self._repr_iterable(x, level, "{", "}", self.maxset)  # type: ignore[attr-defined,no-any-return]

        def repr_frozenset(self, x: frozenset[Any], level: int) -> str:
            if not x:
                return "frozenset()"
            return self._repr_iterable(x, level, "frozenset({", "})", self.maxfrozenset)  # type: ignore[attr-defined,no-any-return]

        def repr_bytes(self, x: bytes, level: int) -> str:
            text = repr(x[: self.maxstring])
            return text + "..." if len(x) > self.maxstring else text

        repr_bytearray = repr_bytes

        def repr_instance(self, x: object, level: int) -> str:
            # A big container subclass is shown as its base would be; a small one (a
            # namedtuple, a short OrderedDict) keeps its own repr.
            if isinstance(x, _CONTAINERS):
                if isinstance(x, dict) and len(x) > self.maxdict:
                    return f"{type(x).__name__}({self.repr_dict(x, level)})"
                if isinstance(x, list) and len(x) > self.maxlist:
                    return f"{type(x).__name__}({self.repr_list(x, level)})"
                if isinstance(x, tuple) and len(x) > self.maxtuple:
                    return f"{type(x).__name__}({self.repr_tuple(x, level)})"
                if isinstance(x, set) and len(x) > self.maxset:
                    return f"{type(x).__name__}({self.repr_set(x, level)})"
                if isinstance(x, frozenset) and len(x) > self.maxfrozenset:
                    return f"{type(x).__name__}({self.repr_frozenset(x, level)})"
                if isinstance(x, str) and len(x) > self.maxstring:
                    return f"{type(x).__name__}({self.repr_str(x, level)})"
                if isinstance(x, bytes) and len(x) > self.maxstring:
                    return f"{type(x).__name__}({self.repr_bytes(x, level)})"
            return super().repr_instance(x, level)

    return BoundedRepr


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<exception str() failed>"


# --- where the process is ------------------------------------------------------------------


def entry_argv() -> list[str]:
    import json

    raw = os.environ.get(ENTRY_ARGV_ENV)
    if raw:
        try:
            argv = json.loads(raw)
            if isinstance(argv, list):
                return [str(a) for a in argv]
        except ValueError:
            pass
    return [str(a) for a in getattr(sys, "argv", [])]


def working_directory() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _current_thread() -> tuple[str, int | None]:
    threading = sys.modules.get("threading")
    if threading is None:
        return "MainThread", None
    thread = threading.current_thread()
    return thread.name, thread.ident


def flask_state(root: str, namespaces: Iterable[Namespace] = ()) -> dict[str, Any] | None:
    """Flask's context state in the calling thread; ``None`` when Flask was never imported.

    It is read when the hook runs. For ``sys.excepthook`` the stack has unwound by then, so a
    context entered with ``with`` is already gone, while one pushed by hand is still there.
    """
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    app_ctx, has_request = _flask_contexts()
    app_name = None
    if app_ctx is not None:
        app_name = getattr(getattr(app_ctx, "app", None), "import_name", None)
    return {
        "type": "flask",
        "app_context": app_ctx is not None,
        "request_context": has_request,
        "app": app_name,
        "apps": module_level_apps(root, namespaces),
    }


def _flask_contexts() -> tuple[object, bool]:
    """The pushed app context (or None), and whether a request context is pushed.

    Flask 3.2 merges the request context into the app context and drops ``_cv_request``.
    """
    global _flask_context_vars
    if _flask_context_vars is None:
        try:
            from flask.globals import _cv_app
        except Exception:
            return None, False
        cv_request: Any
        try:
            from flask.globals import _cv_request as cv_request
        except ImportError:
            cv_request = None
        _flask_context_vars = (_cv_app, cv_request)
    cv_app, cv_request = _flask_context_vars
    app_ctx = cv_app.get(None)
    if cv_request is None:
        has_request = bool(getattr(app_ctx, "has_request", False))
    else:
        has_request = cv_request.get(None) is not None
    return app_ctx, has_request


#: Flask's context variables, once imported: ``(_cv_app, _cv_request or None)``.
_flask_context_vars: tuple[Any, Any] | None = None


def module_level_apps(root: str, namespaces: Iterable[Namespace] = ()) -> list[str]:
    """Import names of the Flask apps bound at module level in the project's modules.

    Looks in the imported modules and in ``namespaces`` (those of modules still being imported).
    """
    flask = sys.modules.get("flask")
    flask_class = getattr(flask, "Flask", None)
    if flask_class is None:
        return []
    names = set(_imported_apps(root, flask_class))
    for namespace in namespaces:
        names.update(_apps_in_namespace(namespace, flask_class))
    return sorted(names)


#: The apps found in each imported module's namespace, with the namespace's size when they were
#: looked for: a module gains its app as it is imported, and rarely rebinds one afterwards.
_module_apps: dict[int, tuple[int, list[str]]] = {}
#: ``_imported_apps``' last answer: the namespaces it looked in, their sizes then, the Flask
#: class, and the apps.
_imported: tuple[list[Namespace], list[int], type, list[str]] | None = None


def _imported_apps(root: str, flask_class: type) -> list[str]:
    """The apps of the project's imported modules.

    Looked for again only when a module was imported or one of their namespaces changed size:
    comparing the sizes of every in-app namespace costs one ``len`` each, where asking each
    namespace's cache on every event cost ~10 µs in a project of 20 modules.
    """
    global _imported
    namespaces = _in_app_namespaces(root)
    sizes = list(map(len, namespaces))
    cached = _imported
    if (
        cached is not None
        and cached[0] is namespaces
        and cached[1] == sizes
        and cached[2] is flask_class
    ):
        return cached[3]
    names: set[str] = set()
    for namespace in namespaces:
        names.update(_apps_in_namespace(namespace, flask_class))
    apps = sorted(names)
    _imported = (namespaces, sizes, flask_class, apps)
    return apps


def _apps_in_namespace(namespace: Namespace, flask_class: type) -> list[str]:
    cached = _module_apps.get(id(namespace))
    if cached is None or cached[0] != len(namespace):
        cached = _module_apps[id(namespace)] = (len(namespace), _apps_in(namespace, flask_class))
    return cached[1]


def _apps_in(namespace: Namespace, flask_class: type) -> list[str]:
    found = []
    for value in list(namespace.values()):
        try:
            if isinstance(value, flask_class):
                found.append(str(value.import_name))  # type: ignore[attr-defined]
        except Exception:  # a proxy whose __class__ raises
            continue
    return found


#: ``in_app_modules``' last answer, with the state of ``sys.modules`` it was computed from, and
#: the modules' namespaces.
_in_app_modules: tuple[tuple[int, str, str], list[Any], list[Namespace]] | None = None


def in_app_modules(root: str) -> list[Any]:
    """The imported modules whose file is the project's.

    Classifying every module's file costs ~1 ms in a large app; it is done again only when
    ``sys.modules`` changed (its size, or the last module added).
    """
    return _in_app_state(root)[1]


def _in_app_namespaces(root: str) -> list[Namespace]:
    """The namespaces of ``in_app_modules(root)``: the same list object until it changes."""
    return _in_app_state(root)[2]


def _in_app_state(root: str) -> tuple[tuple[int, str, str], list[Any], list[Namespace]]:
    global _in_app_modules
    modules = sys.modules
    try:
        last = next(reversed(modules.keys()))
    except StopIteration:
        last = ""
    key = (len(modules), last, root)
    cached = _in_app_modules
    if cached is not None and cached[0] == key:
        return cached
    found = []
    namespaces = []
    for module in list(modules.values()):
        try:
            # Not getattr: a module's ``__getattr__`` may do anything for a name it lacks.
            namespace = vars(module)
        except TypeError:
            continue
        filename = namespace.get("__file__")
        if isinstance(filename, str) and filename and classify_path(filename, root)[0]:
            found.append(module)
            namespaces.append(namespace)
    cached = _in_app_modules = (key, found, namespaces)
    return cached


def pushed_context_detail() -> str | None:
    """A description of the Flask context still pushed in this thread, or None."""
    if "flask" not in sys.modules:
        return None
    app_ctx, has_request = _flask_contexts()
    if app_ctx is None and not has_request:
        return None
    app_name = getattr(getattr(app_ctx, "app", None), "import_name", None)
    kind = "request context" if has_request else "app context"
    return f"{kind} of app {app_name!r} still pushed" if app_name else f"{kind} still pushed"
