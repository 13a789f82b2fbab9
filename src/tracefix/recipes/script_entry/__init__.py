"""CTX102: a script's entry calls project code that needs an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_main_guard
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes.script_module_level import current_line
from tracefix.recipes.script_module_level import fix_script
from tracefix.recipes.script_module_level import in_app_frames_below_script
from tracefix.recipes.script_module_level import is_inline_code_of
from tracefix.recipes.script_module_level import script_frame
from tracefix.recipes.script_module_level import script_path
from tracefix.recipes.script_module_level.detect import script_failures


class ScriptEntry(Recipe):
    """A script's entry calls project code that needs a Flask context, and never pushed one.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in project code that
    a script run as `__main__` called from its `if __name__ == "__main__":` block or from its
    top-level code (a bare `main()`, or `db = get_db()` in a script with no such block), with only
    project frames between the script and the failing line: `python -m scripts.seed_db` calling
    `seed()`, which uses `db.session`. The explanation says which of the two it is.

    It leaves alone calls that pass through Click, threads, executors or imports (other causes), and
    request-context errors (`request` and `session` need a request, not only an app).

    ## Why is this bad?
    Flask pushes an application context only while it handles a request or runs a `flask` command.
    A function that works in a view, where Flask pushed one, fails when a standalone script calls
    it, because nothing pushed one there.

    ## Example
        # scripts/seed_db.py
        from app import db
        from app.models import User

        def seed():
            db.session.add(User(name="Admin"))
            db.session.commit()

        if __name__ == "__main__":
            seed()

    ## Use instead
        # scripts/seed_db.py
        from app import create_app, db
        from app.models import User

        def seed():
            db.session.add(User(name="Admin"))
            db.session.commit()

        if __name__ == "__main__":
            app = create_app()
            with app.app_context():
                seed()

    ## Fix safety
    Safe. The context is pushed in the script, where it starts the call, with `with`, so it is
    popped when the call returns; the called function is not changed, so views that call it behave
    as before. In the `if __name__ == "__main__":` block, the failing statement and the rest of the
    block go under the `with`, and the app is made just above it inside the block: importing the
    script (from a test, say) builds no app. A top-level call is wrapped with its neighbouring
    top-level statements, as CTX101 does, a factory's call just above them. The app is the one the
    script already has, else the project's factory called as its entry file (`wsgi.py`, `manage.py`,
    ...) calls it, else its module-level instance. No fix is offered when the app cannot be found
    without guessing.

    ## References
    - Flask docs, "The Application Context": Manually Push a Context
    - docs/context-errors.md §1.2 `script_function_no_context`
    """

    code = "CTX102"
    reads_the_app = True
    name = "script-entry-without-app-context"
    summary = "A script calls project code that needs an app context without pushing one"
    fix_title = "Call it under `with app.app_context():` at the script's entry"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        path = script_path(event, project)
        if path is None:
            return None
        below = in_app_frames_below_script(event)
        if not below or all(is_inline_code_of(frame, path) for frame in below):
            return None
        script = script_frame(event)
        assert script is not None
        line = current_line(project, path, script)
        if line is None or inside_app_context(project, path, line):
            return None
        trigger = below[-1]
        trigger_line = trigger.lineno
        if project.source(trigger.filename) is not None:
            trigger_line = current_line(project, trigger.filename, trigger)
            if trigger_line is None or inside_app_context(project, trigger.filename, trigger_line):
                return None
        statement = (script.context_line or "").strip()
        called = below[0].function
        needs = (
            f"{trigger.filename}:{trigger_line} (`{(trigger.context_line or '').strip()}`) needs "
            "an application context there. Flask pushes one only while it handles a request or "
            "runs a `flask` command; a standalone script has none."
        )
        unaffected = (
            f"rather than in `{trigger.function}()`, so callers that already have one, such as "
            "views and tests, are unaffected."
        )
        guard = _main_guard(project, path)
        if guard is not None and guard.lineno <= line <= (guard.end_lineno or guard.lineno):
            explanation = (
                f'{path}:{line}, in the script\'s `if __name__ == "__main__":` block, calls '
                f"`{called}()`, and {needs} The context is pushed in that block {unaffected}"
            )
        else:
            where = (
                'the script has no `if __name__ == "__main__":` block'
                if guard is None
                else 'outside its `if __name__ == "__main__":` block'
            )
            calls = "" if f"{called}(" in statement else f"it calls `{called}()`, and "
            explanation = (
                f"{path}:{line} runs `{statement}` at the top level of a script run as "
                f"`__main__` ({where}); {calls}{needs} The context is pushed "
                f"around that top-level code {unaffected}"
            )
        return self.diagnosis(
            explanation, Location(path, line), path=path, line=line, statement=statement
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        return script_failures(self, path, project, through_project_code=True)

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        return fix_script(diagnosis, project)


def _main_guard(project: Project, path: str) -> ast.stmt | None:
    """The script's top-level ``if __name__ == "__main__":`` statement, if it has one."""
    tree = project.ast(path)
    if tree is None:
        return None
    return next((statement for statement in tree.body if is_main_guard(statement)), None)
