"""Failing tests are recorded with their node id, from the test down, without changing pytest."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import BIN_DIR
from .conftest import FLASK_SQLALCHEMY_APP
from .conftest import PYTHON
from .conftest import Run
from .conftest import clean_env
from .conftest import write

TESTS = {
    "shop.py": FLASK_SQLALCHEMY_APP,
    "test_shop.py": """\
        import pytest

        from shop import User, app, db


        def count_users():
            return db.session.query(User).count()


        def test_passes():
            assert app.name == "shop"


        def test_counts_users():
            assert count_users() == 0


        @pytest.fixture
        def seeded():
            db.session.add(User())
            yield


        def test_with_broken_fixture(seeded):
            pass


        @pytest.mark.xfail(raises=ZeroDivisionError)
        def test_expected_failure():
            1 / 0


        def test_skipped():
            pytest.skip("not today")
    """,
}


def test_failing_tests_recorded_with_node_id_from_the_test_down(project: Path, run: Run) -> None:
    write(project, TESTS)

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 1
    by_test = {event.entry.test: event for event in capture.events}
    assert set(by_test) == {
        "test_shop.py::test_counts_users",
        "test_shop.py::test_with_broken_fixture",
    }
    call = by_test["test_shop.py::test_counts_users"]
    assert call.exception.first_line == "Working outside of application context."
    assert call.exception.mechanism == "pytest"
    assert (call.frames[0].filename, call.frames[0].function) == (
        "test_shop.py",
        "test_counts_users",
    )
    assert call.frames[0].module == "test_shop"
    assert call.trigger_frame() is not None and call.trigger_frame().function == "count_users"
    assert not any("_pytest" in f.filename or "pluggy" in f.filename for f in call.frames)
    setup = by_test["test_shop.py::test_with_broken_fixture"]
    assert (setup.frames[0].filename, setup.frames[0].function) == ("test_shop.py", "seeded")
    assert setup.flask is not None and setup.flask.apps == ("shop",)


def test_pytest_console_script_and_collection_errors(project: Path, run: Run) -> None:
    write(
        project,
        {
            "shop.py": FLASK_SQLALCHEMY_APP + "\ndb.create_all()\n",
            "test_import.py": "import shop\n\n\ndef test_nothing():\n    pass\n",
        },
    )

    capture = run(str(BIN_DIR / "pytest"), "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 2
    [event] = capture.events
    assert event.entry.test == "test_import.py"
    assert [(f.filename, f.function) for f in event.frames if f.in_app] == [
        ("test_import.py", "<module>"),
        ("shop.py", "<module>"),
    ]
    assert event.frames[0].filename == "test_import.py", "pytest's import machinery is cut off"


STARTS_A_FAILING_THREAD = """\
        import threading

        from flask import current_app


        def work():
            current_app.logger.info("x")


        def test_starts_thread():
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
"""


def test_thread_exception_inside_a_test_is_recorded(project: Path, run: Run) -> None:
    write(
        project,
        {"test_thread.py": STARTS_A_FAILING_THREAD},
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    threaded = [e for e in capture.events if e.exception.mechanism == "threading"]
    assert len(threaded) == 1
    assert threaded[0].in_thread
    assert threaded[0].entry.test == "test_thread.py::test_starts_thread"


def test_thread_exception_under_a_hook_swapped_around_each_phase_is_recorded(
    project: Path, run: Run
) -> None:
    """pytest before 8.4 swaps ``threading.excepthook`` for its own around each test phase (its
    ``threadexception`` plugin) and reports what it catches as a warning: the conftest does the
    same, so the test holds on every pytest."""
    write(
        project,
        {
            "conftest.py": """\
        import threading

        import pytest

        caught = []


        def swapped():
            previous = threading.excepthook
            threading.excepthook = caught.append
            try:
                yield
            finally:
                threading.excepthook = previous


        @pytest.hookimpl(hookwrapper=True, tryfirst=True)
        def pytest_runtest_call(item):
            yield from swapped()
    """,
            "test_thread.py": STARTS_A_FAILING_THREAD
            + "            from conftest import caught\n"
            + '            assert len(caught) == 1, "the swapped hook still gets it"\n',
        },
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 0
    [threaded] = [e for e in capture.events if e.exception.mechanism == "threading"]
    assert threaded.entry.test == "test_thread.py::test_starts_thread"
    assert threaded.exception.first_line == "Working outside of application context."


def test_each_error_of_a_grouped_teardown_is_recorded(project: Path, run: Run) -> None:
    """pytest 8 groups the errors of one teardown in an ``ExceptionGroup``: each is recorded,
    with its own frames, from the fixture that raised it."""
    write(
        project,
        {
            "shop.py": FLASK_SQLALCHEMY_APP,
            "test_teardown.py": """\
        import pytest

        from shop import db


        @pytest.fixture
        def popped():
            yield
            raise LookupError("nothing pushed")


        @pytest.fixture
        def closed():
            yield
            db.session.close()


        def test_passes(popped, closed):
            pass
    """,
        },
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 1
    recorded = {event.exception.type: event for event in capture.events}
    if "ExceptionGroup" in recorded:
        pytest.fail("the group was recorded, not what it holds")
    assert set(recorded) == {"LookupError", "RuntimeError"}, [e.exception for e in capture.events]
    context = recorded["RuntimeError"]
    assert context.entry.test == "test_teardown.py::test_passes"
    assert (context.frames[0].filename, context.frames[0].function) == (
        "test_teardown.py",
        "closed",
    )


def test_outcome_and_output_unchanged(project: Path, run: Run) -> None:
    write(project, TESTS)
    argv = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-v"]
    plain = subprocess.run(argv, cwd=project, env=clean_env(), capture_output=True, text=True)
    out, err = _Text(), _Text()

    capture = run(*argv, stream=True, stdout=out, stderr=err)

    assert capture.returncode == plain.returncode == 1
    assert len(capture.events) == 2
    assert _timeless(out.getvalue()) == _timeless(plain.stdout)
    assert err.getvalue() == plain.stderr


def test_context_leaked_by_a_test_is_named(project: Path, run: Run) -> None:
    write(
        project,
        {
            "shop.py": FLASK_SQLALCHEMY_APP,
            "test_leak.py": """\
            from shop import app


            def test_clean():
                with app.app_context():
                    pass


            def test_leaks():
                app.app_context().push()


            def test_after():
                pass
        """,
        },
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 0
    assert capture.leaks == (
        "test_leak.py::test_leaks: app context of app 'shop' left pushed by the test",
    )


def test_higher_scoped_fixture_context_is_not_a_leak(project: Path, run: Run) -> None:
    write(
        project,
        {
            "shop.py": FLASK_SQLALCHEMY_APP,
            "test_scoped.py": """\
            import pytest

            from shop import app, db


            @pytest.fixture(scope="module")
            def context():
                ctx = app.app_context()
                ctx.push()
                yield
                ctx.pop()


            def test_one(context):
                db.create_all()


            def test_two(context):
                db.create_all()
        """,
        },
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 0
    assert capture.leaks == ()


def test_user_pytest_plugins_are_kept(project: Path, run: Run) -> None:
    write(
        project,
        {
            "myplugin.py": """\
            def pytest_configure(config):
                print("myplugin configured")
        """,
            "test_ok.py": "def test_ok():\n    pass\n",
        },
    )
    env = clean_env(PYTEST_PLUGINS="myplugin", PYTHONPATH=str(project))
    out = _Text()

    capture = run(
        PYTHON, "-m", "pytest", "-q", "-s", env=env, stream=True, stdout=out, stderr=_Text()
    )

    assert capture.returncode == 0
    assert "myplugin configured" in out.getvalue()


def test_isolated_pytest_still_runs(project: Path, run: Run) -> None:
    """``python -I`` cannot import the plugin, so it must not be named to pytest at all."""
    write(project, {"test_bad.py": "def test_bad():\n    raise ValueError('isolated')\n"})

    capture = run(PYTHON, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 1
    assert not capture.hooked


class _Text:
    """A text stream that keeps what was written (has no ``buffer``: exercises decoding)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


def _timeless(text: str) -> str:
    return re.sub(r"in \d+\.\d+s", "in Xs", textwrap.dedent(text))


def test_an_error_flask_answers_with_a_500_in_a_test_names_the_test(
    project: Path, run: Run
) -> None:
    """The test fails on its status check; the view's own error is recorded too, with the
    test's id, since that is the failure a fix can do something about."""
    write(
        project,
        {
            "test_view.py": """\
        from flask import Flask, current_app

        app = Flask(__name__)


        @app.get("/")
        def index():
            raise LookupError(current_app.name)


        def test_index():
            assert app.test_client().get("/").status_code == 200
    """
        },
    )

    capture = run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert capture.returncode == 1
    kinds = sorted((e.exception.type, e.exception.mechanism) for e in capture.events)
    assert kinds == [("AssertionError", "pytest"), ("LookupError", "flask")]
    assert {e.entry.test for e in capture.events} == {"test_view.py::test_index"}
