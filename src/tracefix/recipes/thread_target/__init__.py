"""CTX103 thread-target-without-app-context: a thread or timer target without an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.diagnose.signatures import is_library_frame
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes._scopes import local_names
from tracefix.recipes.thread_target.app_argument import app_parameter
from tracefix.recipes.thread_target.detect import thread_target_failures
from tracefix.recipes.thread_target.handed import handed_diagnosis
from tracefix.recipes.thread_target.handed import wrap_handed_start
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import bound_name
from tracefix.recipes.thread_target.spawns import every_caller
from tracefix.recipes.thread_target.spawns import is_view
from tracefix.recipes.thread_target.spawns import qualified_names
from tracefix.recipes.thread_target.spawns import references
from tracefix.scan.context_use import analysis

if TYPE_CHECKING:
    import libcst as cst

#: What a thread cannot get back by pushing an app context: it belongs to the request.
REQUEST_GLOBALS = {
    "flask.request": "request",
    "flask.session": "session",
    "flask.g": "g",
    "flask_login.current_user": "current_user",
}
APP_PARAMETER = "app"
THREAD_ROLES = ("thread", "timer")


class ThreadTargetWithoutAppContext(Recipe):
    """Flask context used inside a `threading.Thread` or `threading.Timer` target, which has none.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a thread, where the
    frame right after the standard library's `threading.py` `run` is a project function (the
    `Thread` target or the `Timer` function), and the project hands that function to
    `threading.Thread(target=...)` or `threading.Timer(interval, function)` somewhere.

    ## Why is this bad?
    Flask's contexts are per thread: a new thread starts without one, even when it was started from
    a view, so `current_app`, `g` and everything Flask-SQLAlchemy does through `db.session` fail in
    it. The code that started the thread carries on (the view still returns 200, the script still
    exits 0), so the failure only shows in the logs, and the work the thread should have done is
    silently lost.

    ## Example
        # views.py
        @bp.post("/signup")
        def signup():
            ...
            threading.Thread(target=send_welcome, args=(user.id,)).start()

        # mail.py
        def send_welcome(user_id):
            user = db.session.get(User, user_id)

    ## Use instead
        # views.py
        threading.Thread(
            target=send_welcome, args=(current_app._get_current_object(), user.id)
        ).start()

        # mail.py
        def send_welcome(app, user_id):
            with app.app_context():
                user = db.session.get(User, user_id)

    When the target's module already has the project's app (`app = Flask(__name__)`, or
    `from app import app`), the target only gets `with app.app_context():` around its body;
    in a project that makes its apps with a factory, that module-level app is used only when
    the thread is not started from code that has the running app.

    A target the starts already hand the app to (`def send_async_email(app, msg)`, started
    with `args=(current_app._get_current_object(), msg)`) only gets its body under
    `with app.app_context():`.

    A thread handed a lambda, a `functools.partial` or a bound method has no target of the
    project's own to change (a lambda cannot hold a `with`; the function or method may run
    elsewhere too): when it starts in a route, a request hook or a helper only they call, the
    start hands it over wrapped instead,
    `Thread(target=copy_current_request_context(lambda: build(kind)))`.
    `tracefix scan` finds a lambda that calls a project function and a partial of one; a
    bound method only shows in a failure.

    ## Fix safety
    Unsafe. The thread's work now runs in a context of its own: its `g` starts empty and its
    Flask-SQLAlchemy session is its own, removed when the body ends. When the app is passed,
    the target's signature and its `Thread`/`Timer` calls change together. The fix passes the
    real app (`current_app._get_current_object()`), never the `current_app` proxy (which cannot
    be used from another thread) and never a second app from the factory (which would lose the
    running app's configuration, such as a test database). It is offered only when every
    reference to the target is a thread or timer start, so no view or test that calls it
    directly is affected; only when each start runs in an app context (a view, a request hook,
    a Flask CLI command, a `with app.app_context():` block, or a helper called only from those)
    or the target's module has the app; never when the target reads `request`, `session`, `g`
    or `current_user`, which a thread cannot get back from an app context. A wrapped lambda,
    partial or method runs in a copy of the request's context, which keeps the request alive
    until the thread ends.

    ## References
    - Flask docs, "The Request Context": Notes On Proxies (`_get_current_object` to pass the app
      to a background thread)
    - Flask docs, "The Application Context": Lifetime of the Context
    - docs/context-errors.md §1.5 `thread_no_context`, §3.2 `second_app_instance`
    """

    code = "CTX103"
    name = "thread-target-without-app-context"
    summary = "A thread target uses Flask, but threads start without an app context"
    fix_title = "Run the thread target in an app context of the running app"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception) or event.thread_name == "MainThread":
            return None
        frame = thread_target_frame(event.frames)
        if frame is None or frame.lineno is None or project.source(frame.filename) is None:
            return None
        path = frame.filename
        function = project.function(path, frame.function)
        if function is not None and spans(function, frame.lineno):
            if pushes_context(function) or inside_app_context(project, path, frame.lineno):
                return None
            started = [r for r in references(project, path, function.name) if _is_start(r)]
            if started:
                return self.diagnosis(
                    _explanation(function.name, path, function.lineno, frame.lineno, started),
                    Location(path, frame.lineno),
                    target={"path": path, "function": function.name, "line": function.lineno},
                    starts=[{"path": r.path, "line": r.line, "kind": r.role} for r in started],
                )
        return handed_diagnosis(
            self, event, project, frame, THREAD_ROLES, "runs in a thread started"
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        return thread_target_failures(self, path, project)

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.thread_target import fix  # LibCST: loaded only to fix

        if "handed" in diagnosis.facts:
            return wrap_handed_start(project, diagnosis.facts["handed"])
        path, function = target_to_fix(project, diagnosis)
        name = function.name
        found = references(project, path, name)
        started = [r for r in found if _is_start(r)]
        if not started:
            raise SkipFix(f"{name}() is no longer started as a thread anywhere")
        others = [r for r in found if not _is_start(r)]
        if others:
            how = "called" if others[0].role == "call" else "used"
            raise SkipFix(
                f"{name}() is also {how} at {others[0].path}:{others[0].line}; a context pushed "
                "inside it, or a new parameter, would change that caller too"
            )
        request_reads = sorted(
            REQUEST_GLOBALS[q]
            for q in qualified_names(project, path, function)
            if q in REQUEST_GLOBALS
        )
        if request_reads:
            raise SkipFix(
                f"{name}() reads {', '.join(request_reads)}, which belong to the request, not "
                "to the app context; read them in the view and pass the values instead"
            )
        handed_app = app_parameter(project, path, function, started)
        if handed_app is not None:
            module = fix.wrap_body(project.cst(path), name, handed_app)
            return (FileChange(path, project.source(path), module.code),)
        app = app_name_in_scope(project, path)
        if app is not None and not (
            is_factory_made(project)
            and all(runs_in_app_context(project, start) for start in started)
        ):
            if app in local_names(function):
                raise SkipFix(f"{name}() has a local {app!r} that hides the module's app")
            module = fix.wrap_body(project.cst(path), name, app)
            return (FileChange(path, project.source(path), module.code),)
        return self._pass_app(project, path, function, started)

    def _pass_app(
        self, project: Project, path: str, function: ast.FunctionDef, started: list[Reference]
    ) -> tuple[FileChange, ...]:
        from tracefix.recipes.thread_target import fix

        name = function.name
        for start in started:
            if not runs_in_app_context(project, start):
                raise SkipFix(
                    f"{name}() is started at {start.path}:{start.line}, where tracefix cannot tell "
                    "that an app context is active to take the app from (the code there is no "
                    f"view, nor called only by views), and {path} has no module-level app"
                )
        if function.decorator_list:
            raise SkipFix(f"{name}() is decorated, so a new first parameter may not reach it")
        if APP_PARAMETER in all_names(function):
            raise SkipFix(f"{name}() already uses the name {APP_PARAMETER!r}")
        edited: dict[str, cst.Module] = {}
        for start_path in sorted({start.path for start in started}):
            here = [start for start in started if start.path == start_path]
            edited[start_path] = _pass_app_at(project, start_path, here)
        module = edited.get(path) or project.cst(path)
        module = fix.add_first_parameter(module, name, APP_PARAMETER)
        edited[path] = fix.wrap_body(module, name, APP_PARAMETER)
        return tuple(
            FileChange(p, project.source(p), module.code) for p, module in sorted(edited.items())
        )


def thread_target_frame(frames: Sequence[Frame]) -> Frame | None:
    """The project frame that ``threading.py``'s ``run`` called: the target, or ``None``."""
    found = None
    for before, after in zip(frames, frames[1:], strict=False):
        if is_library_frame(before, "threading.py", "run"):
            found = after if after.in_app else None
    return found


def target_to_fix(project: Project, diagnosis: Diagnosis) -> tuple[str, ast.FunctionDef]:
    """The path and function of the target ``diagnosis`` names (CTX103, CTX106), read again for
    its fix.

    The project may have changed since the diagnosis: ``SkipFix`` when the function is gone or
    pushes an app context by now.
    """
    path = diagnosis.facts["target"]["path"]
    name = diagnosis.facts["target"]["function"]
    function = project.function(path, name)
    if function is None:
        raise SkipFix(f"{path} no longer defines {name}()")
    if pushes_context(function):
        raise SkipFix(f"{name}() ({path}:{function.lineno}) already pushes an app context")
    return path, function


def pushes_context(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(statement, ast.With)
        and any(is_context_call(item.context_expr) for item in statement.items)
        for statement in function.body
    )


def runs_in_app_context(project: Project, start: Reference) -> bool:
    """Whether the code at ``start`` has an app context: in a ``with`` block, a view or a
    request hook, or a function whose every caller has one (``every_caller``)."""
    return every_caller(
        project, start, lambda place: _in_context(project, place.path, place.line, place.function)
    )


def _in_context(project: Project, path: str, line: int, function_name: str | None) -> bool:
    if inside_app_context(project, path, line) or analysis(project).in_view_method(path, line):
        return True
    function = project.function(path, function_name) if function_name else None
    return function is not None and is_view(function)


def is_factory_made(project: Project) -> bool:
    """Whether the project makes its apps with a factory, so that a module's app may not be
    the one running (a test's, configured differently): then the running one is passed."""
    source = find_app_source(project)
    return source is None or source.kind == "factory"


def _pass_app_at(project: Project, path: str, starts: list[Reference]) -> cst.Module:
    """The module at ``path`` with ``current_app._get_current_object()`` passed at ``starts``."""
    from tracefix.recipes._codemod import statement_chain
    from tracefix.recipes._imports import add_project_imports
    from tracefix.recipes.thread_target import fix

    module = project.cst(path)
    first_line = min(start.line for start in starts)
    current_app = bound_name(project, path, "flask.current_app", first_line)
    shift = 0
    if current_app is None:
        before = statement_chain(module, first_line)[0].index
        lines = len(module.code.splitlines())
        module = add_project_imports(
            project, module, ["from flask import current_app"], before=before
        )
        shift = len(module.code.splitlines()) - lines
        current_app = "current_app"
    for start in sorted(starts, key=lambda s: s.line, reverse=True):
        module = fix.pass_app(
            module, start.line + shift, start.role, f"{current_app}._get_current_object()"
        )
    return module


def _is_start(reference: Reference) -> bool:
    return reference.role in ("thread", "timer")


def spans(function: ast.FunctionDef, line: int) -> bool:
    return function.lineno <= line <= (function.end_lineno or function.lineno)


def all_names(function: ast.FunctionDef) -> set[str]:
    """Every name ``function`` binds or reads: a new parameter must be none of them."""
    return local_names(function) | {
        node.id for node in walk(function) if isinstance(node, ast.Name)
    }


def _explanation(name: str, path: str, line: int, failed: int, started: Sequence[Reference]) -> str:
    kind = "timer" if all(start.role == "timer" for start in started) else "thread"
    places = ", ".join(f"{start.path}:{start.line}" for start in started)
    return (
        f"{name}() ({path}:{line}) runs in a {kind} started at {places}, and needs an app "
        f"context at {path}:{failed}. Flask's contexts are per thread: a new thread starts "
        "without one, even when a view started it. The code that started it carried on (a "
        "view still returns 200), so this failure only shows in the logs."
    )
