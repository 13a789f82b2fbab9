"""CTX101: a script's own top-level code uses Flask without an app context."""

from __future__ import annotations

from collections.abc import Iterable

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.flask_sqlalchemy import declares_2x
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.script_module_level.detect import script_failures


class ScriptModuleLevel(Recipe):
    """Flask context used by a script's own top-level code, which nothing ran in a context.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised by a statement at
    the top level (or in the `if __name__ == "__main__":` block) of a script run as `__main__`,
    with only library code (Flask, Flask-SQLAlchemy, SQLAlchemy) between that statement and the
    error: `python scripts/seed_db.py` or `python -m scripts.seed_db`.

    ## Why is this bad?
    Flask pushes an application context only while it handles a request or runs a `flask`
    command. A standalone script has none, so `current_app`, `g`, `url_for` and everything
    Flask-SQLAlchemy does through `db.session` or `db.engine` fail. Since Flask-SQLAlchemy 3.0
    this holds even when the app was passed to `SQLAlchemy(app)`.

    ## Example
        # scripts/seed_db.py
        from app import db
        from app.models import User

        user = User(name="Admin")
        db.session.add(user)
        db.session.commit()

    ## Use instead
        # scripts/seed_db.py
        from app import create_app, db
        from app.models import User

        app = create_app()

        with app.app_context():
            user = User(name="Admin")
            db.session.add(user)
            db.session.commit()

    ## Fix safety
    Safe. The app is the one the script already has, else the project's factory, imported the
    way the project imports it and called with the arguments its entry file (`wsgi.py`,
    `manage.py`, ...) passes, else its module-level instance; never a second app. The `with`
    covers the contiguous top-level statements around the failing one, stopping at imports,
    functions, classes, the docstring and the `if __name__ == "__main__":` block; in that block,
    it covers the failing statement and the rest of the block. A finding of `tracefix scan`,
    which no run has confirmed, is covered from the first statement before it in the block that
    reads `.session`, `.query` or another attribute only a context makes work, through a name
    the scan may not have followed (`db = app.db`). The context is popped when they
    finish. The factory call now runs just before them. No fix is offered when the app cannot
    be found without guessing, or when the script makes its app after the failing line.

    ## References
    - Flask docs, "The Application Context": Manually Push a Context
    - Flask-SQLAlchemy 3.0 changes: "An active Flask application context is always required to
      access `session` and `engine`"
    - docs/context-errors.md §1.1 `script_module_level`
    """

    code = "CTX101"
    reads_the_app = True
    name = "script-module-level-without-app-context"
    summary = "A script's top-level code uses Flask without an app context"
    fix_title = "Run the script's top-level code under `with app.app_context():`"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        path = script_path(event, project)
        if path is None:
            return None
        below = in_app_frames_below_script(event)
        if below is None or not all(is_inline_code_of(frame, path) for frame in below):
            return None
        script = script_frame(event)
        assert script is not None
        line = current_line(project, path, script)
        if line is None or inside_app_context(project, path, line):
            return None
        statement = (script.context_line or "").strip()
        explanation = (
            f"{path}:{line} runs `{statement}` at the top level of a script run as `__main__`, "
            "where nothing has pushed an application context: Flask pushes one only while it "
            "handles a request or runs a `flask` command."
        )
        if not declares_2x(project):
            explanation += (
                " Flask-SQLAlchemy 3 needs that context for `db.session` and `db.engine` even "
                "when the app was given to `SQLAlchemy(app)`."
            )
        return self.diagnosis(
            explanation, Location(path, line), path=path, line=line, statement=statement
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        return script_failures(self, path, project, through_project_code=False)

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        return fix_script(diagnosis, project)


def script_frame(event: Event) -> Frame | None:
    """The outermost project frame, if it is a script's top level running as ``__main__``.

    Launchers before it (``runpy`` for ``python -m``, coverage, debuggers) are library frames.
    """
    for frame in event.frames:
        if frame.in_app:
            if frame.function == "<module>" and _runs_as_main(frame, event):
                return frame
            return None
    return None


def script_path(event: Event, project: Project) -> str | None:
    """The script's path when ``event`` is an app-context error in a ``__main__`` script."""
    if not is_app_context_error(event.exception) or event.in_thread:
        return None
    frame = script_frame(event)
    if frame is None or project.source(frame.filename) is None:
        return None
    return frame.filename


def in_app_frames_below_script(event: Event) -> tuple[Frame, ...] | None:
    """The project frames between the script's top level and the library code that raised.

    ``()`` when the script's statement called straight into a library; ``None`` when a library
    frame (``click``, ``threading``, an import) sits between two project frames: that context
    comes from somewhere else and is another recipe's cause.
    """
    frames = event.frames
    script = script_frame(event)
    if script is None:
        return None
    start = frames.index(script)
    trigger = max(i for i, frame in enumerate(frames) if frame.in_app)
    between = frames[start + 1 : trigger + 1]
    if not all(frame.in_app and frame.function != "<module>" for frame in between):
        return None
    return between


def is_inline_code_of(frame: Frame, path: str) -> bool:
    """Whether ``frame`` is a comprehension, generator expression or lambda written in ``path``."""
    return frame.filename == path and frame.function in (
        "<listcomp>",
        "<dictcomp>",
        "<setcomp>",
        "<genexpr>",
        "<lambda>",
    )


def current_line(project: Project, path: str, frame: Frame) -> int | None:
    """The frame's line in the project as it is now, or ``None`` if the event is stale."""
    from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

    source = project.source(path)
    if source is None or frame.lineno is None:
        return None
    return relocate_line(source, frame.lineno, frame.context_line)


def fix_script(diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
    from tracefix.recipes._codemod import relocate_line
    from tracefix.recipes.script_module_level.fix import wrap_script_statement

    path = str(diagnosis.facts["path"])
    before = project.source(path)
    if before is None:
        raise SkipFix(f"{path} is not in the project")
    line = relocate_line(before, int(diagnosis.facts["line"]), diagnosis.facts.get("statement"))
    if line is None:
        raise SkipFix(f"{path} no longer has the line the event saw")
    ran_before = not diagnosis.facts.get("found_by_scan")
    after = wrap_script_statement(project, path, line, ran_before=ran_before)
    return (FileChange(path, before, after),)


def _runs_as_main(frame: Frame, event: Event) -> bool:
    if frame.module is not None:
        return frame.module == "__main__"
    argv = event.entry.argv
    arguments = argv[1:] if argv and "python" in argv[0].rsplit("/", 1)[-1] else argv
    if len(arguments) >= 2 and arguments[0] == "-m":
        module_file = arguments[1].replace(".", "/")
        return frame.filename in (f"{module_file}.py", f"{module_file}/__main__.py")
    return bool(arguments) and arguments[0].removeprefix("./") == frame.filename
