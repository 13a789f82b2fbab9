"""CTX106 executor-task-without-app-context: a thread pool's task without an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
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
from tracefix.recipes.executor_task.reads import project_spawns
from tracefix.recipes.executor_task.reads import request_reads
from tracefix.recipes.thread_target import all_names
from tracefix.recipes.thread_target import is_factory_made
from tracefix.recipes.thread_target import pushes_context
from tracefix.recipes.thread_target import runs_in_app_context
from tracefix.recipes.thread_target import spans
from tracefix.recipes.thread_target import target_to_fix
from tracefix.recipes.thread_target.handed import handed_diagnosis
from tracefix.recipes.thread_target.handed import wrap_handed_start
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import Spawn
from tracefix.recipes.thread_target.spawns import references
from tracefix.scan.context_use import ContextAnalysis
from tracefix.scan.context_use import analysis

#: The roles of a reference that run the function in another thread, each without a context.
SPAWN_ROLES = frozenset({"thread", "timer", "submit", "map"})
POOL_ROLES = frozenset({"submit", "map"})
#: Stands, in ``Passed.expression``, for the running app as the start's file can name it:
#: ``current_app._get_current_object()``, never the ``current_app`` proxy, which another
#: thread cannot use.
RUNNING_APP = "<running app>"
#: Names for the local variable that holds the running app, in order of preference.
LOCAL_APP_NAMES = ("app", "flask_app")
APP_PARAMETER = "app"
POOL_WORKER_FILE = "concurrent/futures/thread.py"
#: ``concurrent/futures/_base.py`` functions that re-raise a task's exception where its result
#: is read.
RESULT_FUNCTIONS = frozenset({"result", "__get_result", "result_iterator", "_result_or_cancel"})


@dataclass(frozen=True)
class Passed:
    """One value every start passes and the function takes as a new parameter."""

    parameter: str
    #: The expression the start evaluates, or ``RUNNING_APP``.
    expression: str
    #: A global the expression starts with (``flask.request``), which each start's file names
    #: its own way, importing it if need be; ``expression`` is then the rest (``.args["q"]``).
    root: str | None = None


class ExecutorTaskWithoutAppContext(Recipe):
    """Flask context used in a task a `ThreadPoolExecutor` runs, whose threads have none.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a thread pool's
    task: the frame right after the standard library's `concurrent/futures/thread.py` `run` is a
    project function, and the project hands that function to `submit` or `map` of a
    `concurrent.futures.ThreadPoolExecutor` (a module-level pool, imported or not, one made in a
    `with` block, or one made in place). The error shows where the task's result is read
    (`future.result()`, the loop over `executor.map(...)`), which re-raises it.

    `tracefix scan` finds it from the code alone: a task handed to a pool that reads
    `current_app`, `g`, `url_for`, Flask-SQLAlchemy's `db.session` or `Model.query`, itself or in
    the project functions it calls, and pushes no context. That also finds the tasks whose
    result nobody reads, whose error is lost without a trace.

    ## Why is this bad?
    Flask's contexts are per thread, and a pool's worker threads start without one, even when a
    view or a `with app.app_context():` block submits the task. The task fails; when nobody
    reads its result the failure is not even logged, and its work is silently lost.

    ## Example
        # views.py
        @bp.get("/dashboard")
        def dashboard():
            futures = {name: executor.submit(count_rows, name) for name in TABLES}
            return {name: future.result() for name, future in futures.items()}

        # stats.py
        def count_rows(name):
            return db.session.scalar(...)

    ## Use instead
        # views.py
        futures = {
            name: executor.submit(count_rows, current_app._get_current_object(), name)
            for name in TABLES
        }

        # stats.py
        def count_rows(app, name):
            with app.app_context():
                return db.session.scalar(...)

    `executor.map(task, items)` becomes `executor.map(functools.partial(task, app), items)`.
    A task the project also calls directly (a view that runs it for one account) stays as it
    is; the pool runs it through a helper written beside the submission instead:

        def in_app_context(app, task, /, *args, **kwargs):
            with app.app_context():
                return task(*args, **kwargs)

        futures = [pool.submit(in_app_context, app, recompute, i) for i in ids]

    When the task's module already has the project's app (`app = Flask(__name__)`, or
    `from app import app`), the task only gets `with app.app_context():` around its body; in a
    project that makes its apps with a factory, that module-level app is used only when the task
    is not submitted from code that has the running app.

    A task submitted as a lambda, a `functools.partial` or a bound method, in a route or a
    request hook, is wrapped where it is submitted instead:
    `pool.submit(copy_current_request_context(lambda: build(kind)))`, which runs it in a copy
    of the request's context. That one is found from a failure only, not by `tracefix scan`.

    ## Fix safety
    Unsafe. Each task now runs in an app context of its own: its `g` starts empty and its
    Flask-SQLAlchemy session is its own, removed when the task ends. The context is pushed with
    `with`, so it is popped when the task returns: a pool reuses its threads, and a `push()`
    without `pop()` would leak the context, its `g` and its session into every later task of
    that thread. When the app is passed, the task's signature and its `submit`/`map` calls
    change together. The fix passes the real app (`current_app._get_current_object()`), never
    the `current_app` proxy and never a second app from the factory. The task's signature
    changes only when every reference to it is a pool submission (or a thread start); a task
    also called or used otherwise goes through the helper, its callers unaffected, and then
    only when every start is a pool submission made in an app context. Otherwise the fix is
    offered only when each submission runs in an app context or the task's module has the
    app. Never when the task reads `request`, `session`, `g` or `current_user` (CTX108), and
    never for a `ProcessPoolExecutor`, whose tasks run in another process, or for
    Flask-Executor, which pushes a context itself.

    ## References
    - Python docs, `concurrent.futures`: ThreadPoolExecutor, Future.result
    - Flask docs, "The Request Context": Notes On Proxies (`_get_current_object`)
    - docs/context-errors.md §1.6 `executor_no_context`, §3.2 `second_app_instance`
    """

    code = "CTX106"
    name = "executor-task-without-app-context"
    summary = "A task handed to a thread pool uses Flask, but pool threads have no app context"
    fix_title = "Push an app context inside the task, with the real app object"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception):
            return None
        frame = pool_task_frame(event.frames)
        if frame is None or frame.lineno is None or project.source(frame.filename) is None:
            return None
        path = frame.filename
        function = project.function(path, frame.function)
        if function is not None and spans(function, frame.lineno):
            if pushes_context(function) or inside_app_context(project, path, frame.lineno):
                return None
            found = references(project, path, function.name)
            if any(reference.role in POOL_ROLES for reference in found):
                starts = [reference for reference in found if reference.role in SPAWN_ROLES]
                read_at = result_reader(event.frames)
                return self.diagnosis(
                    _explanation(
                        function.name, path, function.lineno, frame.lineno, starts, read_at
                    ),
                    Location(path, frame.lineno),
                    **target_facts(path, function, starts),
                )
        return handed_diagnosis(
            self, event, project, frame, ("submit",), "runs as a thread pool task submitted"
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        context = analysis(project)
        for function, spawns in spawned_here(context, path, POOL_ROLES):
            use = context.function_use(path, function)
            if use is None or use.kind != "app" or request_reads(project, path, function):
                continue
            starts = [r for r in references(project, path, function.name) if r.role in SPAWN_ROLES]
            places = ", ".join(f"{spawn.path}:{spawn.line}" for spawn in spawns)
            yield self.diagnosis(
                f"{use.describe()} needs an app context, but {function.name}() runs as a "
                f"thread pool task submitted at {places}, and a pool's worker threads start "
                "without one. When nobody reads the task's result, its error is lost without "
                "a trace.",
                Location(path, use.line, use.column),
                **target_facts(path, function, starts),
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        if "handed" in diagnosis.facts:
            return wrap_handed_start(project, diagnosis.facts["handed"])
        path, function = target_to_fix(project, diagnosis)
        name = function.name
        from tracefix.recipes.executor_task import fix  # LibCST: loaded only to fix

        found = references(project, path, name)
        starts = [reference for reference in found if reference.role in SPAWN_ROLES]
        if not any(start.role in POOL_ROLES for start in starts):
            raise SkipFix(f"{name}() is no longer handed to a thread pool anywhere")
        reads = request_reads(project, path, function)
        if reads:
            raise SkipFix(
                f"{name}() reads {', '.join(reads)}, which belong to the request, not to the "
                "app context; read them where the task is submitted and pass the values instead"
            )
        if len(starts) < len(found):
            return self._through_helper(project, name, starts, found)
        passed, wrap_with = app_for(project, path, function, starts)
        return fix.hand_over(project, path, name, starts, passed, wrap_with=wrap_with)

    def _through_helper(
        self,
        project: Project,
        name: str,
        starts: Sequence[Reference],
        found: Sequence[Reference],
    ) -> tuple[FileChange, ...]:
        """The fix for a task the project also calls or uses otherwise: the pool runs a helper
        that pushes the context around it, and the task stays as it is for those callers."""
        from tracefix.recipes.executor_task import fix

        other = next(reference for reference in found if reference.role not in SPAWN_ROLES)
        how = "called" if other.role == "call" else "used"
        for start in starts:
            if start.role not in POOL_ROLES:
                raise SkipFix(
                    f"{name}() is also {how} at {other.path}:{other.line} and started as a "
                    f"thread at {start.path}:{start.line}; a change inside it would change that "
                    "caller too"
                )
            if not runs_in_app_context(project, start):
                raise SkipFix(
                    f"{name}() is also {how} at {other.path}:{other.line}, and submitted at "
                    f"{start.path}:{start.line}, where tracefix cannot tell that an app context "
                    "is active to take the app from"
                )
        return fix.submit_through_helper(project, name, starts)


def spawned_here(
    context: ContextAnalysis, path: str, roles: frozenset[str]
) -> list[tuple[ast.FunctionDef, list[Spawn]]]:
    """The top-level functions of ``path`` the project starts in another thread in one of
    ``roles``, each with its starts."""
    found = context.remember(("spawned", roles), lambda: _spawned_by_file(context, roles))
    functions = [
        (context.project.function(path, name), spawns)
        for name, spawns in found.get(path, {}).items()
    ]
    return [(function, spawns) for function, spawns in functions if function is not None]


def _spawned_by_file(
    context: ContextAnalysis, roles: frozenset[str]
) -> dict[str, dict[str, list[Spawn]]]:
    """The project's starts in one of ``roles``, by the file and the name of their target:
    found once, where each file's ``detect`` would go through them all."""
    found: dict[str, dict[str, list[Spawn]]] = {}
    for spawn in project_spawns(context):
        if spawn.role in roles and spawn.target is not None:
            module, _, name = spawn.target.rpartition(".")
            path = context.project.module_path(module)
            if path is not None:
                found.setdefault(path, {}).setdefault(name, []).append(spawn)
    return found


def pool_task_frame(frames: Sequence[Frame]) -> Frame | None:
    """The project frame a pool worker's ``run`` called: the task, or ``None``."""
    found = None
    for before, after in zip(frames, frames[1:], strict=False):
        if is_library_frame(before, POOL_WORKER_FILE, "run"):
            found = after if after.in_app else None
    return found


def result_reader(frames: Sequence[Frame]) -> Frame | None:
    """The project frame that read the failed task's result, which re-raised its error."""
    reader = None
    for frame in frames:
        if frame.in_app:
            reader = frame
        elif is_library_frame(frame, "concurrent/futures/_base.py", frame.function) and (
            frame.function in RESULT_FUNCTIONS
        ):
            return reader
        elif is_library_frame(frame, POOL_WORKER_FILE, "run"):
            return None
    return None


def only_spawned(project: Project, path: str, name: str) -> list[Reference]:
    """Every reference to ``name``, all of them starts in another thread; ``SkipFix`` when one
    calls or uses it otherwise, since a change inside it would change that caller too."""
    found = references(project, path, name)
    others = [reference for reference in found if reference.role not in SPAWN_ROLES]
    if others:
        how = "called" if others[0].role == "call" else "used"
        raise SkipFix(
            f"{name}() is also {how} at {others[0].path}:{others[0].line}; a context pushed "
            "inside it, or a new parameter, would change that caller too"
        )
    if not found:
        raise SkipFix(f"{name}() is no longer started in another thread anywhere")
    return found


def app_for(
    project: Project, path: str, function: ast.FunctionDef, starts: Sequence[Reference]
) -> tuple[list[Passed], str]:
    """How ``function`` gets the app to push: the module's own app, or the running app passed
    by every start; the values to pass, and the name to push it through."""
    name = function.name
    app = app_name_in_scope(project, path)
    if app is not None and not (
        is_factory_made(project) and all(runs_in_app_context(project, s) for s in starts)
    ):
        if app in local_names(function):
            raise SkipFix(f"{name}() has a local {app!r} that hides the module's app")
        return [], app
    for start in starts:
        if not runs_in_app_context(project, start):
            raise SkipFix(
                f"{name}() is started at {start.path}:{start.line}, where tracefix cannot tell "
                "that an app context is active to take the app from (the code there is no "
                f"view, nor called only by views), and {path} has no module-level app"
            )
    if APP_PARAMETER in all_names(function):
        raise SkipFix(f"{name}() already uses the name {APP_PARAMETER!r}")
    return [Passed(APP_PARAMETER, RUNNING_APP)], APP_PARAMETER


def target_facts(
    path: str, function: ast.FunctionDef, starts: Sequence[Reference]
) -> dict[str, object]:
    return {
        "target": {"path": path, "function": function.name, "line": function.lineno},
        "starts": [{"path": s.path, "line": s.line, "kind": s.role} for s in starts],
    }


def _explanation(
    name: str, path: str, line: int, failed: int, starts: Sequence[Reference], read_at: Frame | None
) -> str:
    places = ", ".join(f"{s.path}:{s.line}" for s in starts if s.role in POOL_ROLES)
    surfaced = (
        f" The error surfaced at {read_at.filename}:{read_at.lineno}, where the task's result "
        "is read; a result nobody reads loses it without a trace."
        if read_at is not None and read_at.lineno is not None
        else " When nobody reads a task's result, its error is lost without a trace."
    )
    return (
        f"{name}() ({path}:{line}) runs as a thread pool task submitted at {places}, and needs "
        f"an app context at {path}:{failed}. Flask's contexts are per thread, and a pool's "
        "worker threads start without one, even when a view or a `with app.app_context():` "
        f"block submits the task.{surfaced}"
    )
