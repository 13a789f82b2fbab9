"""CTX114 exit-handler-without-app-context: diagnosis, fix, detect, and the cases run for real."""

from __future__ import annotations

import libcst as cst
import pytest

from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._case_checks import assert_detect_finds_the_expected_fix
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import detected
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import noop_cases
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.exit_handler import ExitHandlerWithoutAppContext
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.recipes.scheduled_job.handoff_fix import wrap_body
from tracefix.testing import load_case

RECIPE = ExitHandlerWithoutAppContext()
APP_MESSAGE = "Working outside of application context."
WERKZEUG = Frame("/site-packages/werkzeug/local.py", "_get_current_object", 519)


def event(*frames: Frame, message: str = APP_MESSAGE) -> Event:
    return Event(
        (ExceptionInfo("RuntimeError", message, frames=(*frames, WERKZEUG)),),
        thread_name="MainThread",
    )


def line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if line.strip() == text)


APP = code("""
    import atexit
    import signal

    from flask import Flask
    from flask import current_app

    app = Flask(__name__)


    def flush():
        current_app.logger.info("flush")


    atexit.register(flush)
""")


def test_atexit_callback_is_wrapped_in_the_modules_app():
    project = Project({"app.py": APP})
    diagnosis = RECIPE.diagnose(event(Frame("app.py", "flush", 11, in_app=True)), project)
    assert diagnosis is not None
    assert "atexit callback (registered at app.py:14)" in diagnosis.explanation
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert "def flush():\n    with app.app_context():\n        current_app" in change.after
    assert isinstance(
        apply_fix(RECIPE, diagnosis, project.with_changes({"app.py": change.after})), FixSkip
    )


def test_signal_handler_on_top_of_the_interrupted_frame():
    source = (
        APP.replace("atexit.register(flush)", "signal.signal(signal.SIGTERM, flush)").replace(
            "def flush():", "def flush(signum, frame):"
        )
        + "\nwhile True:\n    pass\n"
    )
    project = Project({"app.py": source})
    interrupted = Frame("app.py", "<module>", line_of(source, "pass"), in_app=True)
    diagnosis = RECIPE.diagnose(
        event(interrupted, Frame("app.py", "flush", 11, in_app=True)), project
    )
    assert diagnosis is not None
    assert "signal handler" in diagnosis.explanation


def test_a_handler_the_frame_before_calls_is_not_a_signal_delivery():
    source = APP.replace("atexit.register(flush)", "signal.signal(signal.SIGTERM, flush)\nflush()")
    project = Project({"app.py": source})
    caller = Frame("app.py", "<module>", line_of(source, "flush()"), in_app=True)
    assert (
        RECIPE.diagnose(event(caller, Frame("app.py", "flush", 11, in_app=True)), project) is None
    )


FACTORY = code("""
    import atexit
    import signal

    from flask import Flask

    from shop.hooks import on_exit


    def create_app():
        app = Flask(__name__)
        atexit.register(on_exit)
        return app
""")
HOOKS = code("""
    from flask import current_app


    def on_exit(*args):
        current_app.logger.info("bye %s", args)
""")


@pytest.mark.parametrize(
    ("registration", "expected", "parameters"),
    [
        pytest.param(
            "atexit.register(on_exit)",
            "atexit.register(on_exit, app)",
            "def on_exit(app, *args):",
            id="atexit passes the app after the callback",
        ),
        pytest.param(
            "atexit.register(on_exit, 'shop')",
            "atexit.register(on_exit, app, 'shop')",
            "def on_exit(app, *args):",
            id="before the callback's own arguments",
        ),
        pytest.param(
            "signal.signal(signal.SIGTERM, on_exit)",
            "signal.signal(signal.SIGTERM, functools.partial(on_exit, app))",
            "def on_exit(app, *args):",
            id="signal handler through functools.partial",
        ),
    ],
)
def test_factory_passes_its_app(registration, expected, parameters):
    factory = FACTORY.replace("atexit.register(on_exit)", registration)
    project = Project({"shop/__init__.py": factory, "shop/hooks.py": HOOKS})
    frames = [Frame("shop/hooks.py", "on_exit", 5, in_app=True)]
    diagnosis = RECIPE.diagnose(event(*frames), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    changed = {c.path: c.after for c in result.changes}
    assert expected in changed["shop/__init__.py"]
    assert f"{parameters}\n    with app.app_context():\n" in changed["shop/hooks.py"]
    if "functools" in expected:
        assert changed["shop/__init__.py"].startswith("import atexit\nimport functools\n")


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {"shop/cli.py": "from shop.hooks import on_exit\n\nHOOKS = [on_exit]\n"},
            "also used at shop/cli.py:3",
            id="handler also handed elsewhere",
        ),
        pytest.param(
            {
                "shop/__init__.py": FACTORY.replace(
                    "atexit.register(on_exit)", "atexit.register(on_exit)\n    del app"
                )
            },
            "",
            id="factory app passed even when deleted later",
        ),
        pytest.param(
            {"shop/__init__.py": FACTORY.replace("app = Flask(__name__)", "application = None")},
            "there is no app at hand",
            id="no app where it is registered",
        ),
        pytest.param(
            {
                "shop/hooks.py": HOOKS.replace(
                    "import current_app", "import current_app, session"
                ).replace('"bye %s", args', '"bye %s", session.get("user")')
            },
            "reads session",
            id="handler reads the session",
        ),
    ],
)
def test_fix_skips(files, reason):
    project = Project({"shop/__init__.py": FACTORY, "shop/hooks.py": HOOKS, **files})
    diagnosis = RECIPE.diagnose(event(Frame("shop/hooks.py", "on_exit", 5, in_app=True)), project)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, project)
    if not reason:
        assert isinstance(result, FixSuccess), result
        return
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


def test_handler_also_called_directly_is_registered_through_a_wrapper():
    cli = "from shop.hooks import on_exit\n\non_exit()\n"
    project = Project({"shop/__init__.py": FACTORY, "shop/hooks.py": HOOKS, "shop/cli.py": cli})
    diagnosis = RECIPE.diagnose(event(Frame("shop/hooks.py", "on_exit", 5, in_app=True)), project)
    result = apply_fix(RECIPE, diagnosis, project)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.path == "shop/__init__.py"
    assert "        with app.app_context():\n            return on_exit(*args, **kwargs)\n" in (
        change.after
    )
    assert "    atexit.register(on_exit_in_app_context)\n" in change.after


REQUEST_MESSAGE = "Working outside of request context."
FLUSH = Frame("app.py", "flush", 11, in_app=True)


@pytest.mark.parametrize(
    ("source", "frames", "message"),
    [
        pytest.param(APP, [FLUSH], REQUEST_MESSAGE, id="request context error"),
        pytest.param(
            APP.replace("atexit.register(flush)", "flush()"),
            [FLUSH],
            APP_MESSAGE,
            id="not registered",
        ),
        pytest.param(
            APP.replace("atexit.register(flush)", "atexit.register(lambda: flush())"),
            [Frame("app.py", "<lambda>", 14, in_app=True), FLUSH],
            APP_MESSAGE,
            id="registered through a lambda that calls it",
        ),
        pytest.param(
            APP.replace(
                '    current_app.logger.info("flush")',
                '    with app.app_context():\n        current_app.logger.info("flush")',
            ),
            [Frame("app.py", "flush", 12, in_app=True)],
            APP_MESSAGE,
            id="handler already pushes a context",
        ),
    ],
)
def test_not_diagnosed(source, frames, message):
    assert RECIPE.diagnose(event(*frames, message=message), Project({"app.py": source})) is None


def test_registrations_found_as_handoffs():
    project = Project(
        {
            "hooks.py": "def bye(*a):\n    pass\n",
            "main.py": code("""
                import atexit as ax
                from signal import SIGINT
                from signal import signal as on

                from hooks import bye

                ax.register(bye)
                on(SIGINT, handler=bye)
            """),
        }
    )
    assert [(h.runner, h.line) for h in references(project, "hooks.py", "bye")] == [
        ("atexit", 7),
        ("signal", 8),
    ]


def test_wrap_body_keeps_docstring_and_global_declarations_first():
    before = code('''
        def stop(signum, frame):
            """Stop."""
            global running, count
            running = False
    ''')
    after = wrap_body(cst.parse_module(before), "stop", "app").code
    assert after == code('''
        def stop(signum, frame):
            """Stop."""
            global running, count
            with app.app_context():
                running = False
    ''')


# --- detect --------------------------------------------------------------------------------

FIX_CASES = fix_cases(__file__)
NOOP_CASES = noop_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_detect_finds_the_case_and_its_fix_is_the_expected_one(case_dir):
    diagnosis = assert_detect_finds_the_expected_fix(RECIPE, load_case(case_dir))
    assert diagnosis.location.column > 0


@pytest.mark.parametrize("case_dir", NOOP_CASES, ids=[d.name for d in NOOP_CASES])
def test_detect_is_silent_on_noop_cases(case_dir):
    assert not detected(RECIPE, load_case(case_dir))


# --- the cases, run for real ---------------------------------------------------------------

FAILURE_SIGNS = ("Working outside of", "Traceback", "Exception ignored")


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert "Working outside of application context" in before.output, before.output
    assert not any(sign in after.output for sign in FAILURE_SIGNS), after.output
