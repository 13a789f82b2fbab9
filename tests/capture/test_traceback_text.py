"""The stderr fallback: CPython's traceback text read back into events."""

from __future__ import annotations

from pathlib import Path

from tracefix.capture.traceback_text import parse_tracebacks

ROOT = Path("/srv/shop")
SITE = "/home/dev/.venvs/shop/lib/python3.11/site-packages"
STDLIB = "/usr/lib/python3.11"

MODULE_LEVEL = f"""\
Traceback (most recent call last):
  File "/srv/shop/app.py", line 12, in <module>
    db.create_all()
  File "{SITE}/flask_sqlalchemy/extension.py", line 900, in create_all
    self._call_for_binds(bind_key, "create_all")
  File "{SITE}/flask_sqlalchemy/extension.py", line 871, in _call_for_binds
    engine = self.engines[key]
             ^^^^^^^^^^^^
  File "{SITE}/werkzeug/local.py", line 519, in _get_current_object
    raise RuntimeError(unbound_message) from None
RuntimeError: Working outside of application context.

This typically means that you attempted to use functionality that needed
the current application. To solve this, set up an application context
with app.app_context(). See the documentation for more information.
"""


def test_module_level_traceback() -> None:
    [event] = parse_tracebacks(MODULE_LEVEL, ROOT)

    assert event.thread_name == "MainThread"
    assert event.exception.type == "RuntimeError"
    assert event.exception.first_line == "Working outside of application context."
    assert event.exception.value.endswith("See the documentation for more information.")
    assert event.exception.value.count("\n") == 4
    assert [(f.filename, f.function, f.lineno, f.in_app) for f in event.frames] == [
        ("app.py", "<module>", 12, True),
        (f"{SITE}/flask_sqlalchemy/extension.py", "create_all", 900, False),
        (f"{SITE}/flask_sqlalchemy/extension.py", "_call_for_binds", 871, False),
        (f"{SITE}/werkzeug/local.py", "_get_current_object", 519, False),
    ]
    assert event.frames[0].abs_path == "/srv/shop/app.py"
    assert event.frames[0].context_line == "db.create_all()"
    assert event.frames[2].context_line == "engine = self.engines[key]", "caret line ignored"


def test_chained_cause_and_context_make_one_event_oldest_first() -> None:
    text = """\
Traceback (most recent call last):
  File "/srv/shop/config.py", line 3, in load
    return settings["DB"]
           ~~~~~~~~^^^^^^
KeyError: 'DB'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/shop/config.py", line 5, in load
    raise ValueError("no database") from exc
ValueError: no database

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/shop/main.py", line 9, in <module>
    raise SystemError("startup failed")
SystemError: startup failed
"""
    [event] = parse_tracebacks(text, ROOT)

    assert [(e.type, e.value) for e in event.exceptions] == [
        ("KeyError", "'DB'"),
        ("ValueError", "no database"),
        ("SystemError", "startup failed"),
    ]
    assert event.exceptions[0].frames[0].context_line == 'return settings["DB"]'
    assert event.exception.frames[0].filename == "main.py"


def test_separate_tracebacks_are_separate_events() -> None:
    text = MODULE_LEVEL + "\nsome log line\n" + MODULE_LEVEL.replace("line 12", "line 40")

    events = parse_tracebacks(text, ROOT)

    assert [e.frames[0].lineno for e in events] == [12, 40]
    assert "some log line" in events[0].exception.value, "text after a message is ambiguous"


def test_thread_header_names_the_thread() -> None:
    text = f"""\
Exception in thread Thread-1 (work):
Traceback (most recent call last):
  File "{STDLIB}/threading.py", line 1045, in _bootstrap_inner
    self.run()
  File "{STDLIB}/threading.py", line 982, in run
    self._target(*self._args, **self._kwargs)
  File "/srv/shop/jobs.py", line 8, in work
    current_app.logger.info("x")
RuntimeError: Working outside of application context.
Traceback (most recent call last):
  File "/srv/shop/main.py", line 2, in <module>
    raise ValueError("later")
ValueError: later
"""
    thread_event, main_event = parse_tracebacks(text, ROOT)

    assert thread_event.thread_name == "Thread-1 (work)"
    assert thread_event.in_thread
    assert [f.in_app for f in thread_event.frames] == [False, False, True]
    assert thread_event.exception.value == "Working outside of application context."
    assert main_event.thread_name == "MainThread"


def test_thread_header_after_unterminated_output() -> None:
    text = (
        "doneException in thread worker:\nTraceback (most recent call last):\n"
        '  File "/srv/shop/w.py", line 1, in run\n    boom()\n'
        "NameError: name 'boom' is not defined\n"
    )

    [event] = parse_tracebacks(text, ROOT)

    assert event.thread_name == "worker"
    assert event.exception.type == "NameError"


def test_exception_ignored_in_atexit_has_no_thread() -> None:
    text = """\
Exception ignored in atexit callback: <function flush at 0x7f0000000000>
Traceback (most recent call last):
  File "/srv/shop/app.py", line 20, in flush
    db.session.commit()
RuntimeError: Working outside of application context.
"""
    [event] = parse_tracebacks(text, ROOT)

    assert event.thread_name is None
    assert event.frames[0].function == "flush"


def test_dotted_exception_type_and_empty_message() -> None:
    text = """\
Traceback (most recent call last):
  File "/srv/shop/app.py", line 1, in <module>
    run()
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: user
Traceback (most recent call last):
  File "/srv/shop/app.py", line 2, in <module>
    stop()
StopIteration
"""
    first, second = parse_tracebacks(text, ROOT)

    assert (first.exception.module, first.exception.type) == ("sqlalchemy.exc", "OperationalError")
    assert first.exception.value == "(sqlite3.OperationalError) no such table: user"
    assert (second.exception.module, second.exception.type, second.exception.value) == (
        None,
        "StopIteration",
        "",
    )


def test_syntax_error_frame_without_function() -> None:
    text = """\
Traceback (most recent call last):
  File "/srv/shop/run.py", line 9, in <module>
    exec(source)
  File "<string>", line 1
    def g(:
          ^
SyntaxError: invalid syntax
"""
    [event] = parse_tracebacks(text, ROOT)

    assert [(f.filename, f.function, f.context_line) for f in event.frames] == [
        ("run.py", "<module>", "exec(source)"),
        ("<string>", "<unknown>", "def g(:"),
    ]
    assert not event.frames[1].in_app


def test_recursion_marker_is_not_source() -> None:
    text = """\
Traceback (most recent call last):
  File "/srv/shop/r.py", line 2, in f
    return f()
           ^^^
  [Previous line repeated 996 more times]
RecursionError: maximum recursion depth exceeded
"""
    [event] = parse_tracebacks(text, ROOT)

    assert event.frames[0].context_line == "return f()"
    assert event.exception.type == "RecursionError"


def test_pytest_native_report() -> None:
    text = f"""\
=================================== FAILURES ===================================
____________________________________ test_a ____________________________________
Traceback (most recent call last):
  File "{SITE}/_pytest/runner.py", line 361, in from_call
    result: TResult | None = func()
                             ^^^^^^
  File "{SITE}/pluggy/_callers.py", line 103, in _multicall
    res = hook_impl.function(*args)
  File "{SITE}/_pytest/python.py", line 187, in pytest_pyfunc_call
    result = testfunction(**testargs)
  File "/srv/shop/tests/test_users.py", line 8, in test_a
    count_users()
  File "/srv/shop/shop/users.py", line 4, in count_users
    return User.query.count()
RuntimeError: Working outside of application context.
------------------------------- Captured log call --------------------------------
ERROR    shop:users.py:3 about to count
_______________________________ TestUsers.test_b _______________________________
Traceback (most recent call last):
  File "/srv/shop/tests/test_users.py", line 14, in test_b
    assert 1 == 2
AssertionError
=========================== short test summary info ============================
FAILED tests/test_users.py::test_a - RuntimeError: Working outside of application context.
FAILED tests/test_users.py::TestUsers::test_b - AssertionError
"""
    first, second = parse_tracebacks(text, ROOT)

    assert first.entry.test == "tests/test_users.py::test_a"
    assert first.exception.value == "Working outside of application context."
    assert [(f.filename, f.function) for f in first.frames] == [
        ("tests/test_users.py", "test_a"),
        ("shop/users.py", "count_users"),
    ]
    assert second.entry.test == "tests/test_users.py::TestUsers::test_b"


def test_pytest_report_without_summary_rebuilds_the_node_id() -> None:
    text = """\
____________________________ ERROR at setup of test_c ____________________________
Traceback (most recent call last):
  File "/srv/shop/tests/test_more.py", line 5, in client
    db.create_all()
RuntimeError: Working outside of application context.
______________________ ERROR collecting tests/test_boot.py _______________________
Traceback (most recent call last):
  File "/srv/shop/tests/test_boot.py", line 1, in <module>
    import shop.boot
ImportError: nope
"""
    setup, collect = parse_tracebacks(text, ROOT)

    assert setup.entry.test == "tests/test_more.py::test_c"
    assert collect.entry.test == "tests/test_boot.py"


def test_text_without_tracebacks() -> None:
    assert parse_tracebacks("all good\nError: not a traceback\n", ROOT) == []


def test_truncated_head_is_skipped() -> None:
    text = '    x = 1\n  File "/srv/shop/a.py", line 1, in f\nValueError: cut\n' + MODULE_LEVEL

    events = parse_tracebacks(text, ROOT)

    assert len(events) == 1 and events[0].frames[0].lineno == 12


def test_in_app_without_a_project_root() -> None:
    [event] = parse_tracebacks(MODULE_LEVEL, None)

    assert [f.in_app for f in event.frames] == [True, False, False, False]
    assert event.frames[0].filename == "/srv/shop/app.py"


def test_outside_the_root_and_in_the_stdlib_is_not_in_app() -> None:
    text = f"""\
Traceback (most recent call last):
  File "/opt/other/tool.py", line 1, in <module>
    main()
  File "{STDLIB}/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
ValueError: x
"""
    [event] = parse_tracebacks(text, ROOT)

    assert [f.in_app for f in event.frames] == [False, False]


def test_source_context_read_from_disk(tmp_path: Path) -> None:
    lines = [f"line_{n} = {n}" for n in range(1, 21)]
    (tmp_path / "mod.py").write_text("\n".join(lines) + "\n")
    text = f"""\
Traceback (most recent call last):
  File "{tmp_path}/mod.py", line 10, in <module>
    line_10 = 10
  File "{tmp_path}/mod.py", line 12, in <module>
    this line changed since
ValueError: x
"""
    [event] = parse_tracebacks(text, tmp_path)

    fresh, stale = event.frames
    assert fresh.pre_context == tuple(lines[4:9])
    assert fresh.post_context == tuple(lines[10:15])
    assert (stale.context_line, stale.pre_context) == ("this line changed since", ())
