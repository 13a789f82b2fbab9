"""CTX110: a module the app imports uses the app context at import time."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence

from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_main_guard
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.import_time_use.reading import Classified
from tracefix.recipes.import_time_use.reading import app_modules
from tracefix.recipes.import_time_use.reading import classify
from tracefix.recipes.import_time_use.reading import import_time_uses
from tracefix.recipes.import_time_use.reading import top_level_statement
from tracefix.recipes.import_time_use.reading import where_tables_belong
from tracefix.recipes.script_module_level import script_frame


class ImportTimeContextUse(Recipe):
    """A module the app imports uses the app context in its top-level code.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised by a statement at the
    top level of a module that the app imports (its models, views, forms, a config helper: a
    file that importing the factory's or the app's module runs, or that the factory imports),
    while it is being imported: under `flask run`, `flask --app ... <command>`, gunicorn, a
    script or pytest's collection. Typical statements are `db.create_all()`,
    `ADMIN = current_app.config["ADMIN"]`, and `CHOICES = [... Category.query.all()]` in a
    form's class body. `tracefix scan` finds the same statements without running anything.

    A script's own top-level code is CTX101's cause, and a helper only a script imports is not
    the app's: neither is matched here.

    ## Why is this bad?
    Python runs a module's top level once, when it is first imported, and the app imports its
    models and views while it is being set up: before any application context exists, and
    with a factory, before the app itself exists. Anything that needs `current_app` fails
    there. Wrapping the line in `with app.app_context():` needs an app importable from that
    module, which means a circular import, or a second app made just for it.

    ## Example
        # app/models.py
        from app import db

        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)

        db.create_all()

    ## Use instead
        # app/__init__.py
        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            from app import views
            app.register_blueprint(views.bp)

            with app.app_context():
                db.create_all()

            return app

    And a config value kept in a constant is read where it is used:

        def notify(user):
            send(to=current_app.config["ADMIN_EMAIL"], ...)

    ## Fix safety
    Safe. `db.create_all()` moves to where that `db` is registered on the app (the one
    `db.init_app(app)` or `SQLAlchemy(app)` of the project's code, found by following the
    imports, in the factory itself or in a helper the factory calls with its app, such as
    `register_extensions(app)`): into the factory, under its `with app.app_context():` if it
    has one after the registration, else under a new one just before `return app`; or, for a
    module-level app, right after the registration and the import that loads the models. It
    still runs once per app, with every model imported, and it is only removed where the
    factory already creates the tables. A constant read from `current_app.config` is replaced
    by the same read at each use (or by a local variable set first thing in the function,
    where the read would make a line too long), only when every use is inside a function
    body, nothing else imports the constant, and no function that reads it runs at import
    time; those functions read the config when they run, as any code using `current_app`
    does. No fix is offered for anything else (queries in a form's class body, calls of
    project code, a `db` registered in several places or never): the explanation says where
    to move it.

    ## References
    - Flask docs, "The Application Context": Lifetime of the Context; "Application Factories"
    - Flask-SQLAlchemy docs, "Quick Start": Create the Tables
    - docs/context-errors.md §1.3 `import_time_extension_use`
    """

    code = "CTX110"
    reads_the_app = True
    name = "import-time-use-without-app-context"
    summary = "A module the app imports uses the app context at import time"
    fix_title = "Move the import-time use to where the app is set up, or read it lazily"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

        if not is_app_context_error(event.exception) or event.in_thread:
            return None
        site = import_site(event)
        if site is None:
            return None
        frame, below = site
        path = frame.filename
        source = project.source(path)
        if source is None or frame.lineno is None:
            return None
        line = relocate_line(source, frame.lineno, frame.context_line)
        if line is None or path not in app_modules(project):
            return None
        tree = project.ast(path)
        statement = top_level_statement(tree, line) if tree is not None else None
        if statement is None or is_main_guard(statement):
            return None
        if inside_app_context(project, path, line):
            return None
        shape = classify(project, path, statement, _calls_project(below, path, statement))
        own = [f for f in below if f.filename == path and f.lineno is not None]
        use_line = line
        if own:
            use_line = relocate_line(source, own[-1].lineno or line, own[-1].context_line) or line
        return self._diagnosis(
            project, path, statement, use_line, 0, shape, _importer(event, frame), below
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        if is_test_path(path) or not app_modules(project).get(path, False):
            return
        tree = project.ast(path)
        if tree is None:
            return
        for use in import_time_uses(project, path):
            statement = top_level_statement(tree, use.line)
            if statement is None:
                continue
            shape = classify(project, path, statement, calls_project=False)
            yield self._diagnosis(
                project, path, statement, use.use_line, use.column, shape, None, ()
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.import_time_use.fix import move_create_all
        from tracefix.recipes.import_time_use.fix import read_config_lazily

        facts = diagnosis.facts
        path, line, text = str(facts["path"]), int(facts["line"]), facts.get("statement")
        if facts["shape"] == "create_all":
            return move_create_all(project, path, line, text)
        if facts["shape"] == "config":
            return read_config_lazily(project, path, line, text)
        raise SkipFix(f"no safe move for {path}:{line}: {facts.get('reason')}")

    def _diagnosis(
        self,
        project: Project,
        path: str,
        statement: ast.stmt,
        line: int,
        column: int,
        shape: Classified,
        importer: Frame | None,
        below: Sequence[Frame],
    ) -> Diagnosis:
        lines = (project.source(path) or "").splitlines()
        text = lines[line - 1].strip()
        first = lines[statement.lineno - 1].strip()
        module = project.module_name(path) or path
        imported = (
            f", imported from {importer.filename}:{importer.lineno}"
            if importer is not None and importer.lineno
            else ""
        )
        opening = (
            f"{path}:{line} runs `{text}` when `{module}` is imported: it is top-level code of "
            f"a module the app imports{imported}. Python runs that code once, at import, while "
            "the app is being set up, when no application context exists yet."
        )
        if shape.shape == "create_all":
            assert shape.name is not None
            advice = where_tables_belong(project, path, shape.name, statement.lineno)
        elif shape.shape == "config":
            advice = (
                f" `{shape.name}` reads `current_app.config` then; read the value inside the "
                "functions that use it instead, where a context exists."
            )
        else:
            called = (
                f" (through `{below[0].function}()`)" if below and below[0].filename != path else ""
            )
            advice = f" It needs the app context{called}, and no safe move applies: {shape.reason}."
        return self.diagnosis(
            opening + advice,
            Location(path, line, column),
            path=path,
            line=statement.lineno,
            statement=first,
            shape=shape.shape,
            name=shape.name,
            reason=shape.reason,
        )


def import_site(event: Event) -> tuple[Frame, tuple[Frame, ...]] | None:
    """The top-level frame of the module being imported when the error happened, and the
    project frames it called on the way (a comprehension, a class body, a function).

    It is the last project ``<module>`` frame, if it is not the script run as ``__main__``
    and only project frames, then only library frames, follow it.
    """
    frames = event.frames
    modules = [i for i, frame in enumerate(frames) if frame.in_app and frame.function == "<module>"]
    if not modules:
        return None
    index = modules[-1]
    frame = frames[index]
    if frame.module == "__main__" or frame is script_frame(event):
        return None
    after = frames[index + 1 :]
    below = []
    for position, current in enumerate(after):
        if not current.in_app:
            if any(f.in_app for f in after[position:]):
                return None
            break
        below.append(current)
    if len(below) == len(after):
        return None
    return frame, tuple(below)


def _importer(event: Event, frame: Frame) -> Frame | None:
    """The project frame whose import started ``frame``'s module, if the event shows it."""
    frames = event.frames
    index = frames.index(frame)
    return next((f for f in reversed(frames[:index]) if f.in_app), None)


def _calls_project(below: Sequence[Frame], path: str, statement: ast.stmt) -> bool:
    """Whether the statement reached the library through project functions, rather than
    through its own comprehensions, lambdas or class body."""
    for frame in below:
        if frame.filename != path:
            return True
        if frame.function.startswith("<"):
            continue
        if isinstance(statement, ast.ClassDef) and frame.function == statement.name:
            continue
        return True
    return False
