"""Every way of starting Python that tracefix supports records the same kind of event."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import BIN_DIR
from .conftest import FLASK_SQLALCHEMY_APP
from .conftest import PYTHON
from .conftest import Run
from .conftest import write

APP_CONTEXT_ERROR = "Working outside of application context."


def test_script_with_module_level_create_all(project: Path, run: Run) -> None:
    write(project, {"app.py": FLASK_SQLALCHEMY_APP + "\n\nprint('ready')\ndb.create_all()\n"})

    capture = run(PYTHON, "app.py")

    assert capture.returncode == 1
    assert capture.hooked
    [event] = capture.events
    assert event.exception.type == "RuntimeError"
    assert event.exception.first_line == APP_CONTEXT_ERROR
    assert event.thread_name == "MainThread"
    outermost = event.frames[0]
    assert (outermost.filename, outermost.function, outermost.module) == (
        "app.py",
        "<module>",
        "__main__",
    )
    assert outermost.in_app
    assert outermost.abs_path == str(project / "app.py")
    assert outermost.context_line == "db.create_all()"
    assert outermost.pre_context[-1] == "print('ready')"
    assert len(outermost.pre_context) == 5
    assert outermost.vars["app"] == "<Flask 'app'>"
    assert "__name__" not in outermost.vars
    library = event.frames[-1]
    assert not library.in_app
    assert library.filename.endswith("werkzeug/local.py")
    assert library.function == "_get_current_object"
    assert not library.vars
    assert event.trigger_frame() == outermost
    assert event.flask is not None
    assert (event.flask.app_context, event.flask.request_context) == (False, False)
    assert event.flask.apps == ("__main__",)
    assert event.entry.argv == (PYTHON, "app.py")
    assert event.entry.cwd == str(project)
    assert event.entry.test is None


def test_module_run_with_dash_m(project: Path, run: Run) -> None:
    write(
        project,
        {
            "shop/__init__.py": "",
            "shop/models.py": FLASK_SQLALCHEMY_APP,
            "shop/seed.py": """\
            from shop.models import User, db


            def seed():
                db.session.add(User())


            seed()
        """,
        },
    )

    capture = run(PYTHON, "-m", "shop.seed")

    [event] = capture.events
    assert event.exception.first_line == APP_CONTEXT_ERROR
    in_app = [(f.filename, f.function, f.module) for f in event.frames if f.in_app]
    assert in_app == [
        ("shop/seed.py", "<module>", "__main__"),
        ("shop/seed.py", "seed", "__main__"),
    ]
    assert not event.frames[0].in_app, "runpy's frames come first and are not the project's"
    assert event.flask is not None and event.flask.apps == ("shop.models",)


def test_thread_exception_leaves_exit_code_zero_but_is_recorded(project: Path, run: Run) -> None:
    write(
        project,
        {
            "worker.py": """\
        import threading

        from flask import Flask, current_app

        app = Flask(__name__)


        def work():
            current_app.logger.info("working")


        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        print("main done")
    """
        },
    )

    capture = run(PYTHON, "worker.py")

    assert capture.returncode == 0
    [event] = capture.events
    assert event.thread_name == "Thread-1 (work)"
    assert event.in_thread
    assert event.exception.mechanism == "threading"
    assert event.exception.thread_id is not None
    assert event.exception.first_line == APP_CONTEXT_ERROR
    assert event.trigger_frame() is not None and event.trigger_frame().function == "work"
    assert event.frames[0].filename.endswith("threading.py")


def test_flask_cli_command_at_import_time(project: Path, run: Run) -> None:
    write(project, {"app.py": FLASK_SQLALCHEMY_APP + "\ndb.create_all()\n"})

    capture = run(str(BIN_DIR / "flask"), "--app", "app", "routes")

    assert capture.returncode != 0
    [event] = capture.events
    assert event.exception.first_line == APP_CONTEXT_ERROR
    assert event.frames[0].filename == str(BIN_DIR / "flask")
    assert ("flask/cli.py", "main") in [(f.filename[-12:], f.function) for f in event.frames]
    assert not any(f.in_app for f in event.frames if "site-packages" in f.filename)
    project_frames = [f for f in event.frames if f.in_app]
    assert [(f.filename, f.function, f.module) for f in project_frames] == [
        ("app.py", "<module>", "app")
    ]
    assert event.flask is not None and event.flask.apps == ("app",)


def test_flask_cli_command_raising(project: Path, run: Run) -> None:
    write(
        project,
        {
            "app.py": FLASK_SQLALCHEMY_APP
            + textwrap.dedent("""

        @app.cli.command("boom")
        def boom():
            raise LookupError("no such user")
    """)
        },
    )

    capture = run(str(BIN_DIR / "flask"), "--app", "app", "boom")

    assert capture.returncode == 1
    [event] = capture.events
    assert (event.exception.type, event.exception.value) == ("LookupError", "no such user")
    assert event.trigger_frame() is not None and event.trigger_frame().function == "boom"
    assert event.flask is not None and event.flask.apps == ("app",)


def test_flask_state_is_read_when_the_hook_runs(project: Path, run: Run) -> None:
    """By then ``with`` blocks have exited; a context pushed by hand is still there."""
    write(
        project,
        {
            "pushed.py": FLASK_SQLALCHEMY_APP
            + textwrap.dedent("""
        with app.test_request_context("/"):
            pass
        app.test_request_context("/").push()
        raise LookupError("inside a request")
    """)
        },
    )

    [event] = run(PYTHON, "pushed.py").events

    assert event.flask is not None
    assert (event.flask.app_context, event.flask.request_context) == (True, True)
    assert event.flask.app == "__main__"


def test_console_script_with_shebang(project: Path, run: Run) -> None:
    write(
        project,
        {
            "tool/__init__.py": "",
            "tool/main.py": """\
            from flask import current_app


            def main():
                return current_app.name
        """,
        },
    )
    script = project / "bin" / "shop-tool"
    script.parent.mkdir()
    script.write_text(f"#!{PYTHON}\nimport sys\nfrom tool.main import main\nsys.exit(main())\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop("PYTEST_CURRENT_TEST", None)

    capture = run(str(script), env=env)

    [event] = capture.events
    assert event.exception.first_line == APP_CONTEXT_ERROR
    assert event.frames[0].filename == "bin/shop-tool"
    assert event.frames[0].module == "__main__"
    assert [f.function for f in event.frames if f.in_app] == ["<module>", "main"]
    assert event.entry.argv == (str(script),)


def test_chained_exceptions_oldest_first(project: Path, run: Run) -> None:
    write(
        project,
        {
            "chain.py": """\
        def load():
            try:
                {}["user"]
            except KeyError as exc:
                raise ValueError("bad config") from exc


        try:
            load()
        except ValueError:
            raise RuntimeError("startup failed")
    """
        },
    )

    capture = run(PYTHON, "chain.py")

    [event] = capture.events
    assert [e.type for e in event.exceptions] == ["KeyError", "ValueError", "RuntimeError"]
    assert event.exception.value == "startup failed"
    assert [f.function for f in event.exceptions[0].frames] == ["load"]
    assert [f.function for f in event.exceptions[1].frames] == ["<module>", "load"]
    assert [f.function for f in event.exceptions[2].frames] == ["<module>"]
    assert event.exceptions[0].module == "builtins"


def test_suppressed_context_is_not_part_of_the_chain(project: Path, run: Run) -> None:
    write(
        project,
        {
            "quiet.py": """\
        try:
            1 / 0
        except ZeroDivisionError:
            raise RuntimeError("clean") from None
    """
        },
    )

    [event] = run(PYTHON, "quiet.py").events

    assert [e.type for e in event.exceptions] == ["RuntimeError"]


def test_locals_that_are_hostile_to_repr(project: Path, run: Run) -> None:
    write(
        project,
        {
            "hostile.py": """\
        class Broken:
            def __repr__(self):
                raise RuntimeError("repr exploded")


        def fail():
            broken = Broken()
            huge = list(range(1_000_000))
            text = "x" * 100_000
            loop = []
            loop.append(loop)
            nested = {"a": {"b": {"c": {"d": {"e": 1}}}}}
            many = {f"v{i}": i for i in range(3)}
            raise ValueError("after locals")


        fail()
    """
        },
    )

    capture = run(PYTHON, "hostile.py")

    [event] = capture.events
    assert event.exception.value == "after locals"
    frame = event.frames[-1]
    assert frame.function == "fail"
    assert "Broken" in frame.vars["broken"]
    assert all(len(value) <= 200 for value in frame.vars.values())
    assert frame.vars["huge"].startswith("[0, 1, 2")
    assert frame.vars["loop"] in ("[[...]]", "[[[...]]]", "[[[[...]]]]")
    assert frame.vars["text"].startswith("'xxx")


def test_at_most_thirty_locals(project: Path, run: Run) -> None:
    names = "\n".join(f"    v{i} = {i}" for i in range(50))
    write(project, {"many.py": f"def fail():\n{names}\n    raise ValueError\n\n\nfail()\n"})

    [event] = run(PYTHON, "many.py").events

    assert len(event.frames[-1].vars) == 30


def test_keyboard_interrupt_and_exit_are_not_events(project: Path, run: Run) -> None:
    write(
        project,
        {
            "interrupted.py": "raise KeyboardInterrupt\n",
            "exits.py": "import sys\nsys.exit(3)\n",
        },
    )

    interrupted = run(PYTHON, "interrupted.py")
    exits = run(PYTHON, "exits.py")

    assert interrupted.hooked and interrupted.events == ()
    assert (exits.returncode, exits.events) == (3, ())


def test_program_replacing_sys_excepthook_is_still_captured(project: Path, run: Run) -> None:
    write(
        project,
        {
            "cli.py": """\
        import sys


        def quiet_hook(exc_type, exc, tb):
            print(f"error: {exc}", file=sys.stderr)


        sys.excepthook = quiet_hook
        raise LookupError("hidden by a custom hook")
    """
        },
    )

    capture = run(PYTHON, "cli.py")

    assert capture.stderr_tail == "error: hidden by a custom hook\n"
    [event] = capture.events
    assert event.exception.value == "hidden by a custom hook"
    assert event.frames[0].context_line == 'raise LookupError("hidden by a custom hook")'


def test_error_in_atexit_callback(project: Path, run: Run) -> None:
    write(
        project,
        {
            "shutdown.py": FLASK_SQLALCHEMY_APP
            + textwrap.dedent("""
        import atexit


        @atexit.register
        def flush():
            db.session.commit()
    """)
        },
    )

    capture = run(PYTHON, "shutdown.py")

    assert capture.returncode == 0
    [event] = capture.events
    assert event.exception.mechanism == "unraisablehook"
    assert event.exception.first_line == APP_CONTEXT_ERROR
    assert event.trigger_frame() is not None and event.trigger_frame().function == "flush"


@pytest.mark.parametrize("version", ["3.8", "3.9", "3.12", "3.13"])
def test_hook_runs_in_other_interpreters(project: Path, run: Run, version: str) -> None:
    """The user's interpreter is not tracefix's: the hook must not need tracefix's Python."""
    interpreter = _find_interpreter(version)
    if interpreter is None:
        pytest.skip(f"python{version} is not installed")
    write(
        project,
        {
            "job.py": """\
        import threading


        def work():
            raise KeyError("in thread")


        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        raise ValueError("in main")
    """
        },
    )

    capture = run(interpreter, "job.py")

    assert capture.hooked
    assert [(e.thread_name, e.exception.type) for e in capture.events] == [
        ("Thread-1" if version in ("3.8", "3.9") else "Thread-1 (work)", "KeyError"),
        ("MainThread", "ValueError"),
    ]
    assert capture.events[1].frames[0].filename == "job.py"


def _find_interpreter(version: str) -> str | None:
    pyenv_root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(
        str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True)
        if probe.returncode == 0:
            return candidate
    return None
