"""CTX102: the fix at a script's entry, the diagnosis on edge events, the recorded cases."""

from __future__ import annotations

import textwrap

import pytest

from tracefix.event import Entry
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import run_case
from tracefix.recipes.script_entry import ScriptEntry
from tracefix.recipes.script_entry.fix import wrap_script_statement
from tracefix.recipes.script_module_level import ScriptModuleLevel
from tracefix.recipes.script_module_level.test_recipe import FACTORY_APP
from tracefix.recipes.script_module_level.test_recipe import SCRIPT
from tracefix.recipes.script_module_level.test_recipe import line_of
from tracefix.recipes.script_module_level.test_recipe import project

FIXES = [
    pytest.param(
        """\
        from app import db


        def seed():
            db.create_all()


        if __name__ == "__main__":
            seed()
        """,
        "seed()",
        """\
        from app import create_app, db


        def seed():
            db.create_all()


        if __name__ == "__main__":
            app = create_app()
            with app.app_context():
                seed()
        """,
        id="the app is made inside the __main__ block, so importing the script makes none",
    ),
    pytest.param(
        """\
        from app import db
        from app.tasks import seed


        if __name__ == "__main__":
            count = int("3")
            # Seed, then report.
            seed(count)
            print("seeded")
        print("imported")
        """,
        "seed(count)",
        """\
        from app import create_app, db
        from app.tasks import seed


        if __name__ == "__main__":
            count = int("3")
            app = create_app()
            with app.app_context():
                # Seed, then report.
                seed(count)
                print("seeded")
        print("imported")
        """,
        id="statements before the failing call stay outside and code after the block is untouched",
    ),
    pytest.param(
        """\
        from app.tasks import seed

        if __name__ == "__main__": seed()
        """,
        "seed()",
        """\
        from app import create_app
        from app.tasks import seed

        if __name__ == "__main__":
            app = create_app()
            with app.app_context():
                seed()
        """,
        id="a one-line __main__ block",
    ),
    pytest.param(
        """\
        from app.tasks import seed


        def main():
            seed()


        main()
        """,
        "main()",
        """\
        from app import create_app
        from app.tasks import seed


        def main():
            seed()


        app = create_app()

        with app.app_context():
            main()
        """,
        id="a bare top-level main() call is wrapped at the top level",
    ),
    pytest.param(
        """\
        from app import create_app
        from app.tasks import seed

        if __name__ == "__main__":
            app = create_app()
            seed()
        """,
        "seed()",
        """\
        from app import create_app
        from app.tasks import seed

        if __name__ == "__main__":
            app = create_app()
            with app.app_context():
                seed()
        """,
        id="the app the __main__ block already made is reused",
    ),
]

TASKS = {
    **FACTORY_APP,
    "app/tasks.py": "from app import db\n\n\ndef seed(n=1):\n    db.create_all()\n",
}


@pytest.mark.parametrize(("script", "failing", "expected"), FIXES)
def test_fix(script, failing, expected):
    before = project(script, TASKS)
    after = wrap_script_statement(before, SCRIPT, line_of(script, failing))
    assert after == textwrap.dedent(expected)
    fixed = before.with_changes({SCRIPT: after})
    with pytest.raises(SkipFix, match="already runs inside an app context"):
        wrap_script_statement(fixed, SCRIPT, line_of(after, failing))


def event(*frames: Frame, thread: str = "MainThread") -> Event:
    exception = ExceptionInfo(
        "RuntimeError", "Working outside of application context.", "builtins", frames
    )
    return Event((exception,), thread_name=thread, entry=Entry(("python", SCRIPT)))


ENTRY = Frame(SCRIPT, "<module>", 9, "__main__", context_line="seed()", in_app=True)
SEED = Frame(SCRIPT, "seed", 5, "__main__", context_line="db.create_all()", in_app=True)
LIBRARY = Frame("/site-packages/flask_sqlalchemy/extension.py", "create_all", 900, "x")
CLICK = Frame("/site-packages/click/core.py", "invoke", 794, "click.core")
ENTRY_PROJECT = project(str(FIXES[0].values[0]), TASKS)


def test_diagnoses_a_call_from_the_main_block_into_project_code():
    diagnosis = ScriptEntry().diagnose(event(ENTRY, SEED, LIBRARY), ENTRY_PROJECT)
    assert diagnosis is not None
    assert str(diagnosis.location) == f"{SCRIPT}:9"
    assert f"{SCRIPT}:5" in diagnosis.explanation
    assert diagnosis.explanation.startswith(
        f'{SCRIPT}:9, in the script\'s `if __name__ == "__main__":` block, calls `seed()`'
    )
    assert "pushed in that block" in diagnosis.explanation


GET_DB = {
    **FACTORY_APP,
    "app/tasks.py": "from app import db\n\n\ndef get_db():\n    db.create_all()\n    return db\n",
}
TOP_LEVEL_CALL = "from app.tasks import get_db\n\ndb = get_db()\nprint(db)\n"


@pytest.mark.parametrize(
    ("script", "where"),
    [
        pytest.param(
            TOP_LEVEL_CALL,
            '(the script has no `if __name__ == "__main__":` block)',
            id="a script without a __main__ block",
        ),
        pytest.param(
            TOP_LEVEL_CALL + '\nif __name__ == "__main__":\n    print("done")\n',
            '(outside its `if __name__ == "__main__":` block)',
            id="above the script's __main__ block",
        ),
    ],
)
def test_explanation_names_a_top_level_call_as_top_level_code(script, where):
    entry = Frame(SCRIPT, "<module>", 3, "__main__", context_line="db = get_db()", in_app=True)
    called = Frame(
        "app/tasks.py", "get_db", 5, "app.tasks", context_line="    db.create_all()", in_app=True
    )
    diagnosis = ScriptEntry().diagnose(event(entry, called, LIBRARY), project(script, GET_DB))
    assert diagnosis is not None
    assert diagnosis.explanation.startswith(
        f"{SCRIPT}:3 runs `db = get_db()` at the top level of a script run as `__main__` {where}; "
        "app/tasks.py:5 (`db.create_all()`) needs an application context there."
    )
    assert "pushed around that top-level code rather than in `get_db()`" in diagnosis.explanation
    assert "in that block" not in diagnosis.explanation
    assert ScriptModuleLevel().diagnose(event(ENTRY, SEED, LIBRARY), ENTRY_PROJECT) is None


NOT_DIAGNOSED = [
    pytest.param(event(ENTRY, CLICK, SEED, LIBRARY), id="click sits between the script and seed"),
    pytest.param(event(ENTRY, SEED, LIBRARY, thread="Thread-1"), id="in another thread"),
    pytest.param(event(ENTRY, LIBRARY), id="no project code below the script (CTX101)"),
    pytest.param(
        event(
            ENTRY,
            Frame(SCRIPT, "<listcomp>", 9, "__main__", context_line="seed()", in_app=True),
            LIBRARY,
        ),
        id="a comprehension in the script is still the script's own code (CTX101)",
    ),
]


@pytest.mark.parametrize("failure", NOT_DIAGNOSED)
def test_not_diagnosed(failure):
    assert ScriptEntry().diagnose(failure, ENTRY_PROJECT) is None


def test_not_diagnosed_when_the_called_function_now_pushes_a_context():
    pushed = ENTRY_PROJECT.with_changes(
        {
            SCRIPT: textwrap.dedent(str(FIXES[0].values[0])).replace(
                "    db.create_all()",
                "    with current_app.app_context():\n        db.create_all()",
            )
        }
    )
    moved = Frame(SCRIPT, "<module>", 10, "__main__", context_line="seed()", in_app=True)
    assert ScriptEntry().diagnose(event(moved, SEED, LIBRARY), pushed) is None


@pytest.mark.parametrize("case", fix_cases(__file__), ids=lambda case: case.name)
def test_expected_tree_makes_the_command_pass(case, tmp_path):
    outcome = run_case(case, tmp_path / "project", fixed=True)
    assert outcome.returncode == 0, outcome.output
