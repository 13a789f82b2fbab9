"""The runner around the hook: leaks, the user's own start-up, fallbacks, streams, processes."""

from __future__ import annotations

import _thread
import io
import json
import os
import subprocess
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tracefix.capture.runner import HOOK_DIR
from tracefix.capture.runner import hook_env
from tracefix.capture.runner import ignores_python_path
from tracefix.errors import CommandNotFound

from .conftest import FLASK_SQLALCHEMY_APP
from .conftest import PYTHON
from .conftest import Run
from .conftest import clean_env
from .conftest import write


def test_context_pushed_and_never_popped_is_a_leak(project: Path, run: Run) -> None:
    write(
        project, {"seed.py": FLASK_SQLALCHEMY_APP + "\napp.app_context().push()\ndb.create_all()\n"}
    )

    capture = run(PYTHON, "seed.py")

    assert capture.returncode == 0
    assert capture.events == ()
    assert capture.leaks == ("at exit: app context of app '__main__' still pushed",)


def test_context_in_a_with_block_is_not_a_leak(project: Path, run: Run) -> None:
    write(
        project,
        {"seed.py": FLASK_SQLALCHEMY_APP + "\nwith app.app_context():\n    db.create_all()\n"},
    )

    capture = run(PYTHON, "seed.py")

    assert (capture.returncode, capture.events, capture.leaks) == (0, (), ())


def test_user_sitecustomize_still_runs(project: Path, run: Run, tmp_path: Path) -> None:
    user_site = tmp_path / "user_site"
    write(
        user_site,
        {
            "sitecustomize.py": """\
        import os
        import sys

        sys.user_customized = True
        open(os.environ["MARKER"], "w").close()
    """
        },
    )
    write(
        project,
        {
            "check.py": """\
        import sys

        import sitecustomize

        print(getattr(sys, "user_customized", False), sitecustomize.__file__)
        raise ValueError("still captured")
    """
        },
    )
    marker = tmp_path / "marker"
    out = io.StringIO()
    env = clean_env(PYTHONPATH=str(user_site), MARKER=str(marker))

    capture = run(PYTHON, "check.py", env=env, stream=True, stdout=out, stderr=io.StringIO())

    assert marker.exists()
    assert out.getvalue() == f"True {user_site / 'sitecustomize.py'}\n"
    assert capture.hooked
    assert [e.exception.value for e in capture.events] == ["still captured"]


def test_failing_user_sitecustomize_reported_as_without_tracefix(
    project: Path, run: Run, tmp_path: Path
) -> None:
    user_site = tmp_path / "user_site"
    write(user_site, {"sitecustomize.py": "raise OSError('broken site')\n"})
    write(project, {"ok.py": "print('ran')\n"})
    env = clean_env(PYTHONPATH=str(user_site))
    plain = subprocess.run(
        [PYTHON, "ok.py"], cwd=project, env=env, capture_output=True, text=True, check=True
    )

    capture = run(PYTHON, "ok.py", env=env)

    assert capture.returncode == 0
    assert capture.hooked
    assert capture.stderr_tail == plain.stderr
    assert "broken site" in plain.stderr


def test_hook_is_inert_without_a_capture_dir(project: Path) -> None:
    probe = (
        "import sys; print(sys.excepthook is sys.__excepthook__, "
        "'tracefix_capture' in sys.modules, 'threading' in sys.modules)"
    )
    result = subprocess.run(
        [PYTHON, "-c", probe],
        cwd=project, env=clean_env(PYTHONPATH=str(HOOK_DIR)),
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert result.stdout.split() == ["True", "False", "False"]


def test_isolated_python_falls_back_to_stderr(project: Path, run: Run) -> None:
    write(
        project,
        {"app.py": FLASK_SQLALCHEMY_APP + "\n\ndef seed():\n    db.create_all()\n\n\nseed()\n"},
    )

    capture = run(PYTHON, "-I", "app.py")

    assert not capture.hooked
    assert capture.returncode == 1
    [event] = capture.events
    assert event.exception.first_line == "Working outside of application context."
    assert event.exception.mechanism == "stderr"
    assert [(f.filename, f.function) for f in event.frames if f.in_app] == [
        ("app.py", "<module>"),
        ("app.py", "seed"),
    ]
    assert event.frames[1].context_line == "    db.create_all()"
    assert event.entry.argv == (PYTHON, "-I", "app.py")


def test_a_conftest_that_raises_on_import_is_read_from_pytests_report(
    project: Path, run: Run
) -> None:
    """pytest exits 4 and reports it in its own short form, which no hook sees: the
    flask-realworld-example-app's and cookiecutter-flask's import-time errors under pytest."""
    write(
        project,
        {
            "shop/__init__.py": "",
            "shop/settings.py": "from flask import current_app\n\nPER_PAGE = current_app.config"
            '["PER_PAGE"]\n',
            "tests/conftest.py": "from shop.settings import PER_PAGE\n",
            "tests/test_shop.py": "def test_nothing():\n    pass\n",
        },
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "tests")

    assert capture.returncode == 4
    [event] = capture.events
    assert event.exception.first_line == "Working outside of application context."
    assert [(f.filename, f.lineno, f.function) for f in event.frames if f.in_app] == [
        ("tests/conftest.py", 1, "<module>"),
        ("shop/settings.py", 3, "<module>"),
    ]
    assert event.frames[1].context_line == 'PER_PAGE = current_app.config["PER_PAGE"]'


def test_fallback_agrees_with_the_hook(project: Path, run: Run) -> None:
    write(
        project,
        {"app.py": FLASK_SQLALCHEMY_APP + "\n\ndef seed():\n    db.create_all()\n\n\nseed()\n"},
    )

    hooked = run(PYTHON, "app.py").events[-1]
    without_site = clean_env(PYTHONPATH=sysconfig.get_paths()["purelib"])
    parsed = run(PYTHON, "-S", "app.py", env=without_site).events[-1]

    def shape(frames):
        return [(f.filename, f.function, f.lineno, f.in_app, f.context_line) for f in frames]

    assert shape(parsed.frames) == shape(hooked.frames)
    assert (parsed.exception.type, parsed.exception.value) == (
        hooked.exception.type,
        hooked.exception.value,
    )


def test_output_is_streamed_byte_for_byte(project: Path, run: Run) -> None:
    payload = b"caf\xc3\xa9\r\n\xff\xfe not utf-8\x00\nno newline at the end"
    write(
        project,
        {
            "emit.py": f"""\
        import sys
        sys.stdout.buffer.write({payload!r})
        sys.stdout.flush()
        sys.stderr.buffer.write(b"err \\xff\\n")
    """
        },
    )
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")

    capture = run(PYTHON, "emit.py", stream=True, stdout=out, stderr=err)

    assert out.buffer.getvalue() == payload  # type: ignore[attr-defined]
    assert err.buffer.getvalue() == b"err \xff\n"  # type: ignore[attr-defined]
    assert capture.stderr_tail == "err \ufffd\n"


def test_output_arrives_while_the_command_runs(project: Path, run: Run, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    write(
        project,
        {
            "slow.py": f"""\
        import os, sys, time
        print("first", flush=True)
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.02)
        print("second")
    """
        },
    )
    seen: list[str] = []

    class Watcher(io.StringIO):
        def write(self, text: str) -> int:
            seen.append(text)
            if "first" in text:
                gate.touch()
            return super().write(text)

    capture = run(
        PYTHON, "slow.py", stream=True, stdout=Watcher(), stderr=io.StringIO(), timeout=30
    )

    assert capture.returncode == 0
    assert "".join(seen) == "first\nsecond\n"


def test_quiet_run_writes_nothing(
    project: Path, run: Run, capfd: pytest.CaptureFixture[str]
) -> None:
    write(project, {"loud.py": "import sys\nprint('out')\nprint('err', file=sys.stderr)\n"})

    capture = run(PYTHON, "loud.py", stream=False)

    assert capfd.readouterr() == ("", "")
    assert capture.stderr_tail == "err\n"


def test_stderr_tail_is_bounded(project: Path, run: Run) -> None:
    write(project, {"spam.py": "import sys\nsys.stderr.write('x' * 200_000 + 'END')\n"})

    capture = run(PYTHON, "spam.py")

    assert len(capture.stderr_tail) == 64 * 1024
    assert capture.stderr_tail.endswith("xEND")


def test_missing_command(project: Path, run: Run) -> None:
    with pytest.raises(CommandNotFound, match="command not found: no-such-program-xyz"):
        run("no-such-program-xyz")


def test_timeout_kills_the_process_group(project: Path, run: Run, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    write(
        project,
        {
            "hang.py": f"""\
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """
        },
    )
    started = time.monotonic()

    capture = run(PYTHON, "hang.py", timeout=2)

    assert time.monotonic() - started < 20
    assert capture.returncode != 0
    assert "killed after 2 s" in capture.stderr_tail
    assert not _alive(int(pid_file.read_text()))


def test_ctrl_c_kills_the_command_and_cleans_up(
    project: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    pid_file = tmp_path / "pid"
    write(
        project,
        {
            "wait.py": f"""\
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """
        },
    )

    def interrupt_when_started() -> None:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run(PYTHON, "wait.py", timeout=30)

    assert not _alive(int(pid_file.read_text()))
    assert list(temporary.iterdir()) == []


def test_in_app_excludes_a_virtualenv_inside_the_project(project: Path, run: Run) -> None:
    write(
        project,
        {
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/vendored.py": "def explode():\n    raise ValueError('vendored')\n",
            "main.py": "import vendored\n\nvendored.explode()\n",
        },
    )
    env = clean_env(PYTHONPATH=str(project / ".venv" / "lib"))

    [event] = run(PYTHON, "main.py", env=env).events

    assert [(f.filename, f.in_app) for f in event.frames] == [
        ("main.py", True),
        (str(project / ".venv/lib/vendored.py"), False),
    ]
    assert event.frames[1].vars == {}


def test_hook_env_keeps_the_users_settings(tmp_path: Path) -> None:
    base = {"PYTHONPATH": "/user/lib", "PYTEST_PLUGINS": "a,b", "KEEP": "1"}

    env = hook_env(["python", "x.py"], base=base, capture_dir=tmp_path, project_root=tmp_path)

    assert env["PYTHONPATH"] == f"{HOOK_DIR}{os.pathsep}/user/lib"
    assert env["PYTEST_PLUGINS"] == "a,b,tracefix_pytest"
    assert env["KEEP"] == "1"
    assert json.loads(env["TRACEFIX_ENTRY_ARGV"]) == ["python", "x.py"]
    assert base == {"PYTHONPATH": "/user/lib", "PYTEST_PLUGINS": "a,b", "KEEP": "1"}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "-I", "-m", "pytest"], True),
        (["python3.11", "-Im", "pytest"], True),
        (["/usr/bin/python3", "-E", "x.py"], True),
        (["python", "-m", "pytest", "-I"], False),
        (["python", "-c", "print(1)", "-I"], False),
        (["python", "x.py", "-E"], False),
        (["pytest", "-I"], False),
        (["python", "-W", "error", "x.py"], False),
    ],
)
def test_ignores_python_path(argv: list[str], expected: bool) -> None:
    assert ignores_python_path(argv) is expected


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return True


def test_unhooked_grandchild_falls_back_to_stderr(project: Path, run: Run) -> None:
    write(
        project,
        {
            "outer.py": """\
            import subprocess
            import sys

            sys.exit(subprocess.call([sys.executable, "-I", "inner.py"]))
        """,
            "inner.py": "raise ValueError('from the isolated child')\n",
        },
    )

    capture = run(PYTHON, "outer.py")

    assert capture.hooked
    assert capture.returncode == 1
    [event] = capture.events
    assert (event.exception.value, event.exception.mechanism) == (
        "from the isolated child",
        "stderr",
    )
    assert event.frames[0].filename == "inner.py"


def test_logged_traceback_of_a_successful_hooked_run_is_not_an_event(
    project: Path, run: Run
) -> None:
    write(
        project,
        {
            "logs.py": """\
        import logging

        try:
            {}["missing"]
        except KeyError:
            logging.exception("handled")
    """
        },
    )

    capture = run(PYTHON, "logs.py")

    assert "Traceback (most recent call last)" in capture.stderr_tail
    assert (capture.returncode, capture.events) == (0, ())


FLASK_VIEW_ERROR = """\
import sys

from flask import Flask

app = Flask(__name__)
app.testing = "--testing" in sys.argv


@app.get("/")
def index():
    raise KeyError("basket")


try:
    print(app.test_client().get("/").status_code)
except KeyError:
    print("raised")
"""


def test_an_error_flask_answers_with_a_500_is_recorded(project: Path, run: Run) -> None:
    """The program carries on as if nothing failed (exit 0): the hook still records the
    view's error, through Flask's ``got_request_exception``."""
    write(project, {"shop.py": FLASK_VIEW_ERROR})

    capture = run(PYTHON, "shop.py")

    assert capture.returncode == 0
    [event] = capture.events
    [exception] = event.exceptions
    assert (exception.type, exception.value) == ("KeyError", "'basket'")
    assert exception.mechanism == "flask"
    assert [f.function for f in event.frames if f.in_app] == ["index"]


def test_an_error_flask_propagates_is_recorded_once(project: Path, run: Run) -> None:
    """Testing mode re-raises it: the program (or pytest, or the excepthook) sees it, and the
    signal does not record it a second time."""
    write(project, {"shop.py": FLASK_VIEW_ERROR.replace("except KeyError:", "except OSError:")})

    capture = run(PYTHON, "shop.py", "--testing")

    assert capture.returncode == 1
    [event] = capture.events
    assert event.exceptions[0].mechanism == "excepthook"
