"""CTX116 process-target-without-app-context: a child process's function needs an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.event import Event
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.process_target.remote import child_frames
from tracefix.recipes.scheduled_job.handoff import Handoff
from tracefix.recipes.scheduled_job.handoff import check_no_others
from tracefix.recipes.scheduled_job.handoff import check_no_request_reads
from tracefix.recipes.scheduled_job.handoff import check_unshadowed
from tracefix.recipes.scheduled_job.handoff import describe
from tracefix.recipes.scheduled_job.handoff import failing_line_has_context
from tracefix.recipes.scheduled_job.handoff import fix_target
from tracefix.recipes.scheduled_job.handoff import handed_context_users
from tracefix.recipes.scheduled_job.handoff import handed_frame
from tracefix.recipes.scheduled_job.handoff import has_context
from tracefix.recipes.scheduled_job.handoff import location_of
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.recipes.scheduled_job.handoff import target_function
from tracefix.recipes.scheduled_job.handoff import unfollowed
from tracefix.recipes.scheduled_job.handoff import where

#: The child's frames that call the function: ``Process.run``, a ``Pool`` worker, a
#: ``ProcessPoolExecutor`` worker.
PROCESS_RUNNER_FRAMES = (
    ("multiprocessing/process.py", "run"),
    ("multiprocessing/pool.py", "worker"),
    ("multiprocessing/pool.py", "mapstar"),
    ("multiprocessing/pool.py", "starmapstar"),
    ("concurrent/futures/process.py", "_process_worker"),
    ("concurrent/futures/process.py", "_process_chunk"),
)
PROCESS_RUNNERS = frozenset({"process", "pool"})
#: The local the fix binds the child's app to, when it makes one.
APP_NAME = "app"


#: The packages whose runners this recipe follows; ``detect`` skips a project without them.
RUNNER_PACKAGES = ("multiprocessing", "concurrent")


class ProcessTargetWithoutAppContext(Recipe):
    """A function run in another process uses Flask's app context, which no process hands over.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a project function
    run in a child process: a `multiprocessing.Process(target=...)` (its traceback, printed
    under `Process SpawnProcess-1:`, read back from stderr), or a `Pool`'s `map`/`apply_async`
    or a `ProcessPoolExecutor`'s `submit`/`map` (the parent re-raises the error, with the
    child's traceback in its cause, `RemoteTraceback`). The project must hand that function to
    one of those, `get_context("spawn").Process` and `with ctx.Pool() as pool:` included.

    `tracefix scan` finds the same functions from the code: handed to a process or a process
    pool, reading `current_app`, `g`, `url_for`, a Flask-SQLAlchemy `db.session` or a model's
    `query`, and pushing no context.

    ## Why is this bad?
    A child process has no Flask context. With the `spawn` and `forkserver` start methods (the
    default on macOS and Windows, and on Linux since Python 3.14) it re-imports the modules and
    has no app at all; with `fork` it copies the parent's context only if the parent happened to
    have one, so the same code works on one machine and fails on another. The parent carries on
    unless it checks the child's exit code.

    ## Example
        # exports.py
        def export_orders(path):
            rows = db.session.scalars(db.select(Order)).all()
            write_csv(path, rows)

        # scripts/nightly.py
        multiprocessing.get_context("spawn").Process(target=export_orders, args=(path,)).start()

    ## Use instead
        # exports.py
        from shop import create_app

        def export_orders(path):
            app = create_app()
            with app.app_context():
                rows = db.session.scalars(db.select(Order)).all()
                write_csv(path, rows)

    A separate process needs an app of its own, made there the way the project makes it: the
    module's app (`app = Flask(__name__)`, or imported from where the project keeps it), or its
    factory called as its entry file (`wsgi.py`, `manage.py`) calls it. The function keeps
    receiving plain values (ids, paths), never the app or ORM objects, which do not pickle.

    ## Fix safety
    Unsafe. The child's work now runs in an app context of its own, with its own
    Flask-SQLAlchemy engine and session (with `fork`, no longer the parent's connections, which
    SQLAlchemy warns against sharing). A factory-made app is the project's default
    configuration, not one a test gave the parent. A factory is called only for a `Process`
    target, once per process; for a pool's function it would run once per task (extensions set
    up again, log handlers added again), so no fix is offered there unless the project has a
    module-level app. The fix is offered only when every reference to the function is a process
    handoff, and never when the function reads `request`, `session` or `current_user`.

    ## References
    - Python docs, `multiprocessing`: Contexts and start methods; What's New in 3.14 (the
      default start method on Linux is `forkserver`)
    - SQLAlchemy docs, "Using Connection Pools with Multiprocessing or os.fork()"
    - docs/context-errors.md §1.13 `multiprocessing_no_context`, §3.2 `second_app_instance`
    """

    code = "CTX116"
    name = "process-target-without-app-context"
    summary = "A function run in another process uses Flask, but no app context crosses processes"
    fix_title = "Make the app in the child process, the project's way, and push its context"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception):
            return None
        frames = child_frames(event, project)
        frame = handed_frame(frames, project, PROCESS_RUNNER_FRAMES)
        if frame is None:
            return None
        function = target_function(project, frame)
        if function is None or has_context(function) or failing_line_has_context(project, frame):
            return None
        handoffs = [h for h in references(project, frame.filename, function.name) if _is_process(h)]
        assert frame.lineno is not None
        return self.diagnosis(
            _explanation(function, frame.filename, frame.lineno, handoffs),
            Location(frame.filename, frame.lineno),
            target={"path": frame.filename, "function": function.name, "line": function.lineno},
            handoffs=[{"path": h.path, "line": h.line, "runner": h.runner} for h in handoffs],
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        found = handed_context_users(project, path, RUNNER_PACKAGES, _is_process)
        for function, use, handoffs in found:
            yield self.diagnosis(
                _explanation(function, path, use.lineno, handoffs),
                location_of(path, use),
                target={"path": path, "function": function.name, "line": function.lineno},
                handoffs=[{"path": h.path, "line": h.line, "runner": h.runner} for h in handoffs],
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.process_target.fix import make_app_in_function
        from tracefix.recipes.process_target.fix import push_module_app

        target = fix_target(project, diagnosis, _is_process)
        if not target.handoffs:
            raise SkipFix(unfollowed(target.name, "another process", target.others))
        check_no_others(
            target,
            ", in a process that may have its own app context: a context pushed inside it would "
            "change that caller too",
        )
        check_no_request_reads(
            project,
            target,
            "a request; another process has none: pass the values it needs as arguments",
        )
        path, name = target.path, target.name
        module_app = app_name_in_scope(project, path)
        if module_app is not None:
            check_unshadowed(target.function, module_app)
            return (push_module_app(project, path, name, module_app),)
        source = find_app_source(project, near=path)
        if source is None:
            raise SkipFix(
                f"the project's app cannot be found without guessing (or importing it would "
                f"import {path} itself), so {name}() cannot make one"
            )
        if source.kind == "instance":
            check_unshadowed(target.function, source.name)
            return (push_module_app(project, path, name, source.name, source.import_statement),)
        pools = [h for h in target.handoffs if h.runner == "pool"]
        if pools:
            raise SkipFix(
                f"{name}() runs in a process pool ({describe(pools)}), so making the app in it "
                f"would call {source.name}() once per task; make the app once per worker "
                "process instead (the pool's initializer) and push its context in the function"
            )
        check_unshadowed(target.function, APP_NAME)
        return (make_app_in_function(project, path, name, source, APP_NAME),)


def _is_process(handoff: Handoff) -> bool:
    return handoff.runner in PROCESS_RUNNERS


def _explanation(
    function: ast.FunctionDef, path: str, failed: int, handoffs: Sequence[Handoff]
) -> str:
    pooled = bool(handoffs) and all(h.runner == "pool" for h in handoffs)
    how = "a process pool" if pooled else "another process"
    return (
        f"{function.name}() ({path}:{function.lineno}) runs in {how} (handed over "
        f"{where(handoffs)}) and needs an app context at {path}:{failed}. No Flask context "
        "crosses into a child process: with the spawn or forkserver start method it has no app "
        "at all, and with fork only a copy of whatever context the parent had."
    )
