"""pytest plugin that records failing tests as events, loaded through ``PYTEST_PLUGINS``.

pytest catches test exceptions itself, so ``sys.excepthook`` never sees them. This plugin reads
them where pytest offers them to debuggers (``pytest_exception_interact``: collection, setup,
call and teardown failures, never skips or xfails), records the test's node id, and cuts the
frames so the first one is the test, fixture or test module: the pytest and pluggy frames above
it say nothing about the user's code.

It also names the test running when Flask handles a view's error itself (``watch_flask``), and
reports Flask contexts that a test left pushed. A higher-scoped fixture may keep a
context pushed on purpose across tests and pop it when its scope ends, so a test is only blamed
when the context it left behind is still pushed once the whole session has been torn down.

It only observes: no option, no output, no change of outcome.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from types import CodeType
from types import TracebackType
from typing import Any

import pytest
import tracefix_capture  # type: ignore[import-not-found]

_RECORDED_PHASES = ("collect", "setup", "call", "teardown")
_HARNESS_PACKAGES = ("_pytest", "pytest", "pluggy")


@dataclass
class _SessionState:
    current_test: str | None = None
    context_before: object = None
    #: (node id, context) for each test after which a context was pushed that was not before.
    suspected_leaks: list[tuple[str, object]] = field(default_factory=list)


_state = _SessionState()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Record thread exceptions too: pytest replaces ``threading.excepthook`` without chaining."""
    try:
        tracefix_capture.current_test = lambda: _state.current_test
        threading.excepthook = tracefix_capture.chained_thread_excepthook(
            threading.excepthook, tracefix_capture.current_test
        )
    except BaseException:
        pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    with _thread_exceptions_recorded():
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with _thread_exceptions_recorded():
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    with _thread_exceptions_recorded():
        yield


@contextmanager
def _thread_exceptions_recorded() -> Iterator[None]:
    """Thread exceptions recorded during a test phase, whatever hook wraps it: pytest before 8.4
    (its ``threadexception`` plugin) swaps ``threading.excepthook`` for its own around each
    phase, and turns what it catches into a warning; ours goes inside, chained to it."""
    swapped = None
    try:
        if not getattr(threading.excepthook, "tracefix", False):
            swapped = threading.excepthook
            threading.excepthook = tracefix_capture.chained_thread_excepthook(
                swapped, tracefix_capture.current_test
            )
    except BaseException:
        swapped = None
    try:
        yield
    finally:
        if swapped is not None:
            threading.excepthook = swapped


def pytest_exception_interact(
    node: pytest.Item | pytest.Collector,
    call: pytest.CallInfo[Any],
    report: pytest.CollectReport | pytest.TestReport,
) -> None:
    try:
        if call.when not in _RECORDED_PHASES or call.excinfo is None:
            return
        excinfo = call.excinfo
        for exc in _leaves(excinfo.value):
            tb = excinfo.tb if exc is excinfo.value else exc.__traceback__
            tracefix_capture.record_exception(
                type(exc),
                exc,
                _from_user_code(tb, node) if tb is not None else None,
                mechanism="pytest",
                test=node.nodeid,
            )
    except BaseException:
        pass


def _leaves(exc: BaseException) -> list[BaseException]:
    """``exc``, or the exceptions an exception group holds, each group opened in turn: pytest 8
    groups the errors of one teardown (a fixture's ``ctx.pop()`` and another's query), and each
    is a failure of its own, with its own traceback."""
    inner = getattr(exc, "exceptions", None)
    if type(exc).__name__ in ("ExceptionGroup", "BaseExceptionGroup") and isinstance(inner, tuple):
        return [leaf for each in inner for leaf in _leaves(each)]
    return [exc]


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _state.current_test = nodeid
    try:
        _state.context_before = _pushed_app_context()
    except BaseException:
        pass


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Called after the test's teardown: the moment a leaked context becomes visible."""
    _state.current_test = None
    try:
        after = _pushed_app_context()
        if after is not None and after is not _state.context_before:
            _state.suspected_leaks.append((nodeid, after))
    except BaseException:
        pass
    _state.context_before = None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    try:
        if "flask" not in sys.modules:
            return
        for nodeid, context in _state.suspected_leaks:
            if _still_pushed(context):
                name = getattr(getattr(context, "app", None), "import_name", None)
                detail = f"app context of app {name!r} left pushed by the test"
                tracefix_capture.record_leak(nodeid, detail)
                tracefix_capture.leaks_reported = True
    except BaseException:
        pass


def _from_user_code(tb: TracebackType, node: pytest.Item | pytest.Collector) -> TracebackType:
    """The traceback from the test function (or, failing that, the first non-pytest frame)."""
    code = _test_code(node)
    entry: TracebackType | None
    if code is not None:
        entry = tb
        while entry is not None:
            if entry.tb_frame.f_code is code:
                return entry
            entry = entry.tb_next
    entry = tb
    while entry is not None and _is_harness(entry.tb_frame.f_code.co_filename):
        entry = entry.tb_next
    return entry if entry is not None else tb


def _test_code(node: pytest.Item | pytest.Collector) -> CodeType | None:
    if not isinstance(node, pytest.Function):
        return None
    function = node.obj
    try:
        import inspect

        function = inspect.unwrap(function)
    except Exception:
        pass
    code = getattr(function, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _is_harness(filename: str) -> bool:
    if filename.startswith("<frozen importlib"):
        return True
    parts = filename.replace(os.sep, "/").split("/")
    for index, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages") and parts[index + 1] in _HARNESS_PACKAGES:
            return True
    return "importlib" in parts[-3:-1] and "site-packages" not in parts


def _pushed_app_context() -> object:
    if "flask" not in sys.modules:
        return None
    return tracefix_capture._flask_contexts()[0]


def _still_pushed(context: object) -> bool:
    """Whether ``context`` is still on Flask's stack (Flask 3.1 keeps a token per push)."""
    tokens = getattr(context, "_cv_tokens", None)
    if tokens is not None:
        return bool(tokens)
    return _pushed_app_context() is context
