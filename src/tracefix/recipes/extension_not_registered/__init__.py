"""CTX111: a Flask-SQLAlchemy instance the app never registered (no ``init_app``, or two)."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.flask_sqlalchemy import declares_2x
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.event import Event
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import Instance
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import functions_around
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import instance_for
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import instances
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import project_files
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import registrations
from tracefix.recipes.extension_not_registered.sqlalchemy_setup import resolve

#: Flask-SQLAlchemy 3's message, first line, lower case.
NOT_REGISTERED_MESSAGE = "the current flask app is not registered with this 'sqlalchemy' instance"


class ExtensionNotRegistered(Recipe):
    """The app never registered the Flask-SQLAlchemy instance the code uses.

    ## What it does
    Matches `RuntimeError: The current Flask app is not registered with this 'SQLAlchemy'
    instance. Did you forget to call 'init_app', or did you create multiple 'SQLAlchemy'
    instances?`, finds from the failing line which instance was used (`db.session`, or a model
    whose base is `db.Model`), and tells the two causes apart by reading the project: nothing
    calls `init_app` for it, or it is a second `SQLAlchemy()` made beside the one the app
    registers. `tracefix scan` finds both without running anything; it does not report a second
    instance in a project that declares Flask-SQLAlchemy 2.x (pinned `==2.5.1`, or `<3`), which
    runs one in an app context on the state of the instance the app registered.

    ## Why is this bad?
    An app context exists (this is not a missing-context error), but the extension object does
    not know the app: `SQLAlchemy()` without an app is only registered by `db.init_app(app)`,
    and each instance keeps its own models, engines and sessions. Pushing a context does not
    help, and passing the app to a second `SQLAlchemy(app)` fails with "A 'SQLAlchemy' instance
    has already been registered on this Flask app".

    ## Example
        # app/models.py
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()          # a second instance: the app registers app.db

        class User(db.Model): ...

    ## Use instead
        # app/models.py
        from app import db

        class User(db.Model): ...

    And where nothing registers the one instance:

        def create_app():
            app = Flask(__name__)
            app.config.from_object(Config)

            db.init_app(app)
            return app

    ## Fix safety
    Safe. A second instance is replaced by an import of the registered one under the same name,
    only when nothing registers it, it is made with no arguments (or the same as the first),
    and the import cannot run in a circle; its `SQLAlchemy` import goes when unused. A missing
    registration is added as `db.init_app(app)` in the project's one factory (or after its one
    module-level app), after the statements that configure the app and before any other use
    of `db`; `db` is imported there if needed. No fix is offered when the instance the code
    used is unclear, when it is registered (the code then runs under another app, such as a
    bare `Flask(__name__)` in a test: use the app `db` was registered with), or when the app is.

    ## References
    - Flask-SQLAlchemy docs, "Quick Start": Initialize the Extension; "Flask Application
      Context"
    - Flask docs, "Application Factories"
    - docs/context-errors.md §1.4 `extension_not_initialised`
    """

    code = "CTX111"
    name = "sqlalchemy-instance-not-registered"
    summary = "The code uses a Flask-SQLAlchemy instance the app never registered"
    fix_title = (
        "Register the one `SQLAlchemy` instance on the app, or import it instead of a second"
    )
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

        exception = event.exception
        if exception.type != "RuntimeError":
            return None
        if not exception.first_line.lower().startswith(NOT_REGISTERED_MESSAGE):
            return None
        trigger = event.trigger_frame()
        if trigger is None or trigger.lineno is None:
            return None
        path = trigger.filename
        source = project.source(path)
        if source is None:
            return None
        line = relocate_line(source, trigger.lineno, trigger.context_line) or trigger.lineno
        used = instances_used(project, path, line)
        every = instances(project)
        instance = used[0] if len(used) == 1 else (every[0] if len(every) == 1 else None)
        text = (trigger.context_line or "").strip()
        where = f"{path}:{line} (`{text}`)"
        if instance is None:
            return self.diagnosis(
                f"{where} uses a Flask-SQLAlchemy instance the running app never registered, "
                "but which of the project's instances it is cannot be read from the code. An app "
                "context exists; the instance needs `init_app(app)` on this app, or the code "
                "the one instance the app registers.",
                Location(path, line),
                kind="unclear",
            )
        running = next((v for v in trigger.vars.values() if v.startswith("<Flask ")), None)
        return self._verdict(project, instance, where, Location(path, line), running)

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        if is_test_path(path):
            return
        for instance in instances(project):
            if instance.path != path or registrations(project, instance):
                continue
            if not _used(project, instance) or find_app_source(project) is None:
                continue
            diagnosis = self._verdict(
                project, instance, None, Location(path, instance.line, instance.column)
            )
            kind = diagnosis.facts["kind"]
            if kind == "missing_init_app" or (
                kind == "second_instance" and not declares_2x(project)
            ):
                yield diagnosis

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.extension_not_registered.fix import add_init_app
        from tracefix.recipes.extension_not_registered.fix import share_instance

        facts = diagnosis.facts
        kind = facts["kind"]
        if kind == "missing_init_app":
            return add_init_app(project, _instance(project, facts["instance"]))
        if kind == "second_instance":
            return share_instance(
                project,
                _instance(project, facts["instance"]),
                _instance(project, facts["shared"]),
            )
        raise SkipFix(str(facts.get("reason") or "which instance or app to change is unclear"))

    def _verdict(
        self,
        project: Project,
        instance: Instance,
        where: str | None,
        location: Location,
        running: str | None = None,
    ) -> Diagnosis:
        """The cause, read from the project: ``where`` is the failing line (``None`` for
        ``detect``, which has no failure, only the instance)."""
        made = f"`{instance.name}` ({instance.path}:{instance.line})"
        uses = f"{where} uses {made}" if where else f"The project uses {made}"
        identity = {"path": instance.path, "name": instance.name, "line": instance.line}
        registered = registrations(project, instance)
        if registered:
            first = registered[0]
            under = f" ({running})" if running else ""
            reason = (
                f"{made} is registered on an app at {first.path}:{first.line}, so the code runs "
                f"under another app{under}, such as a bare `Flask(__name__)` or a second "
                "`create_app()`: use the app it was registered with"
            )
            return self.diagnosis(
                f"{uses}, which the running app never registered. {reason}.",
                location,
                kind="other_app",
                instance=identity,
                reason=reason,
            )
        others = [
            i
            for i in instances(project)
            if i != instance and not is_test_path(i.path) and registrations(project, i)
        ]
        unregistered = [
            i
            for i in instances(project)
            if i != instance and not is_test_path(i.path) and not registrations(project, i)
        ]
        if len(others) == 1:
            shared = others[0]
            reg = registrations(project, shared)[0]
            return self.diagnosis(
                f"{uses}, a second `SQLAlchemy()` instance: the app registers "
                f"only the `{shared.name}` made at {shared.path}:{shared.line} (registered at "
                f"{reg.path}:{reg.line}). "
                "Each instance keeps its own models and sessions"
                + (", and the context is fine" if where else "")
                + f": {instance.path} should import `{shared.name}` rather than make its own.",
                location,
                kind="second_instance",
                instance=identity,
                shared={"path": shared.path, "name": shared.name, "line": shared.line},
            )
        if not others and not unregistered:
            app = find_app_source(project)
            setup = (
                f" in `{app.name}()` ({app.path})"
                if app is not None and app.kind == "factory"
                else f" after `{app.name} = Flask(...)` ({app.path})"
                if app is not None
                else ""
            )
            return self.diagnosis(
                f"{uses}, which nothing registers on the app: no code calls "
                f"`{instance.name}.init_app(app)`, and it was not made as `SQLAlchemy(app)`."
                + (" The context is fine; register" if where else " Register")
                + f" the extension where the app is set up{setup}.",
                location,
                kind="missing_init_app",
                instance=identity,
            )
        reason = (
            f"the project makes {len(others) + len(unregistered) + 1} `SQLAlchemy` instances, "
            f"and which one {instance.path} should use is unclear"
        )
        return self.diagnosis(
            f"{uses}, which the running app never registered; {reason}.",
            location,
            kind="unclear",
            instance=identity,
            reason=reason,
        )


def instances_used(project: Project, path: str, line: int) -> list[Instance]:
    """The instances the statement at ``path:line`` names: ``db`` itself, or a model class
    whose base is ``db.Model``."""
    tree = project.ast(path)
    if tree is None:
        return []
    statement = _innermost_statement(tree, line)
    if statement is None:
        return []
    scopes = functions_around(tree, line)
    found: list[Instance] = []
    for name in dict.fromkeys(
        node.id for node in _own_nodes(statement) if isinstance(node, ast.Name)
    ):
        instance = instance_for(project, path, name, scopes) or _model_instance(
            project, path, name, scopes
        )
        if instance is not None and instance not in found:
            found.append(instance)
    return found


def _model_instance(
    project: Project,
    path: str,
    name: str,
    scopes: tuple[ast.FunctionDef | ast.AsyncFunctionDef, ...],
) -> Instance | None:
    """The instance whose ``Model`` the class ``name`` derives from, if it is a model."""
    origin = resolve(project, path, name, scopes)
    if origin is None:
        return None
    file, class_name = origin
    tree = project.ast(file)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for base in node.bases:
                if (
                    isinstance(base, ast.Attribute)
                    and base.attr == "Model"
                    and isinstance(base.value, ast.Name)
                ):
                    return instance_for(project, file, base.value.id)
                if isinstance(base, ast.Name):
                    return _model_instance(project, file, base.id, ())
    return None


def _own_nodes(statement: ast.stmt) -> list[ast.AST]:
    """The nodes of ``statement`` itself: for an ``if`` or a ``with``, its header, not the
    statements of its body."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        found.append(node)
        pending.extend(c for c in child_nodes(node) if not isinstance(c, ast.stmt))
    return found


def _innermost_statement(tree: ast.Module, line: int) -> ast.stmt | None:
    found: ast.stmt | None = None
    for node in walk(tree):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if found is None or node.lineno >= found.lineno:
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    found = node
    return found


def _used(project: Project, instance: Instance) -> bool:
    """Whether anything uses the instance: its own module (``db.Model``, ``db.Column``) or a
    module that imports it."""
    source = project.source(instance.path) or ""
    if f"{instance.name}." in source:
        return True
    return any(
        resolve(project, path, instance.name) == instance.key
        for path, _ in project_files(project, mentioning=instance.name)
        if path != instance.path
    )


def _instance(project: Project, identity: dict[str, object]) -> Instance:
    for instance in instances(project):
        if instance.path == identity["path"] and instance.name == identity["name"]:
            return instance
    raise SkipFix(f"{identity['path']} no longer makes `{identity['name']}`")
