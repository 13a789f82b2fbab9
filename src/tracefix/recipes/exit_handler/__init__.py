"""CTX114 exit-handler-without-app-context: an atexit or signal handler needs an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence

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
from tracefix.recipes.scheduled_job.handoff import Handoff
from tracefix.recipes.scheduled_job.handoff import check_no_request_reads
from tracefix.recipes.scheduled_job.handoff import check_others_are_calls
from tracefix.recipes.scheduled_job.handoff import describe
from tracefix.recipes.scheduled_job.handoff import failing_line_has_context
from tracefix.recipes.scheduled_job.handoff import fix_target
from tracefix.recipes.scheduled_job.handoff import handed_context_users
from tracefix.recipes.scheduled_job.handoff import has_context
from tracefix.recipes.scheduled_job.handoff import location_of
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.recipes.scheduled_job.handoff import target_function

HANDLER_RUNNERS = frozenset({"atexit", "signal"})


#: The packages whose runners this recipe follows; ``detect`` skips a project without them.
RUNNER_PACKAGES = ("atexit", "signal")


class ExitHandlerWithoutAppContext(Recipe):
    """An `atexit` callback or a signal handler uses Flask's app context, which it never has.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a project function
    that the interpreter called on its own: an `atexit` callback (`atexit.register(flush)` or
    `@atexit.register`), run at exit after every context was popped, which Python reports as
    `Exception ignored in atexit callback`; or a signal handler (`signal.signal(SIGTERM,
    on_term)`), run between two statements of whatever the main thread was doing. The frame
    before the handler, if any, must not call it: the interpreter did.

    `tracefix scan` finds the same handlers from the code: a function registered with `atexit`
    or `signal` that reads `current_app`, `g`, `url_for`, a Flask-SQLAlchemy `db.session` or a
    model's `query` and pushes no context.

    ## Why is this bad?
    Flask pushes an app context only around a request, a `flask` command or a
    `with app.app_context():` block. At exit all of them are over, even when the callback was
    registered inside one; a signal lands wherever the main thread is, usually between requests
    or in a worker's loop. An atexit callback's exception does not change the exit status, so
    the flush or the clean-up it was for is silently lost; a signal handler's exception ends the
    program the handler was meant to stop gracefully.

    ## Example
        # worker.py
        app = create_app()

        def on_sigterm(signum, frame):
            current_app.logger.info("stopping")
            Job.query.filter_by(state="running").update({"state": "queued"})
            db.session.commit()

        signal.signal(signal.SIGTERM, on_sigterm)

    ## Use instead
        # worker.py
        app = create_app()

        def on_sigterm(signum, frame):
            with app.app_context():
                current_app.logger.info("stopping")
                Job.query.filter_by(state="running").update({"state": "queued"})
                db.session.commit()

        signal.signal(signal.SIGTERM, on_sigterm)

    When the handler's module has no app but the place that registers it does (inside
    `create_app`), the handler gets that app as its first argument: `atexit.register(flush, app)`,
    `signal.signal(signal.SIGTERM, functools.partial(on_sigterm, app))`.

    ## Fix safety
    Unsafe. The handler now runs in an app context of its own, pushed and popped with `with`:
    its `g` starts empty and its Flask-SQLAlchemy session is its own. A signal can arrive while a
    request is being handled; the handler's context is pushed on top of the request's and popped
    before the request carries on. The fix is offered only when every reference to the handler
    is its registration (no code calls it directly) and it reads no `request`, `session` or
    `current_user`; the app is the one the project has where the handler is, or where it is
    registered, never a second one. Keep signal handlers small (set a flag, let the main loop do
    the work): the fix does not move work out of them.

    ## References
    - Python docs: `atexit` ("Exception ignored in atexit callback"), `signal` ("Python signal
      handlers are always executed in the main Python thread ... between bytecode
      instructions")
    - Flask docs, "The Application Context": Lifetime of the Context, Manually Push a Context
    - docs/context-errors.md §1.14 `exit_hook_or_signal_no_context`
    """

    code = "CTX114"
    name = "exit-handler-without-app-context"
    summary = "An atexit callback or signal handler uses Flask, but it runs outside any context"
    fix_title = "Push an app context inside the handler, with the project's app"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception):
            return None
        found = handler_frame(event.frames, project)
        if found is None:
            return None
        frame, function, handlers = found
        if has_context(function) or failing_line_has_context(project, frame):
            return None
        assert frame.lineno is not None
        return self.diagnosis(
            _explanation(function, frame.filename, frame.lineno, handlers),
            Location(frame.filename, frame.lineno),
            target={"path": frame.filename, "function": function.name, "line": function.lineno},
            handlers=[_fact(handler) for handler in handlers],
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        found = handed_context_users(project, path, RUNNER_PACKAGES, _is_handler)
        for function, use, handlers in found:
            yield self.diagnosis(
                _explanation(function, path, use.lineno, handlers),
                location_of(path, use),
                target={"path": path, "function": function.name, "line": function.lineno},
                handlers=[_fact(handler) for handler in handlers],
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.scheduled_job.handoff_fix import fix_with_app
        from tracefix.recipes.scheduled_job.handoff_fix import register_wrapper

        target = fix_target(project, diagnosis, _is_handler)
        if not target.handoffs:
            raise SkipFix(f"{target.name}() is no longer registered with atexit or signal")
        check_no_request_reads(project, target, "a request; an exit or signal handler has none")
        check_others_are_calls(target, "outside the handler")
        if target.others:
            why = "the interpreter calls its exit and signal handlers without one"
            return register_wrapper(project, target.function, target.handoffs, why)
        return fix_with_app(project, target.path, target.function, target.handoffs)


def handler_frame(
    frames: Sequence[Frame], project: Project
) -> tuple[Frame, ast.FunctionDef, list[Handoff]] | None:
    """The outermost project frame that the interpreter called as a registered handler.

    An atexit callback is the first frame of its traceback (``atexit`` calls it from C); a
    signal handler sits on top of the frame that was running, which did not call it. Either way
    the function is registered with ``atexit`` or ``signal`` in the project.
    """
    for index, frame in enumerate(frames):
        if not frame.in_app or project.source(frame.filename) is None:
            continue
        function = target_function(project, frame)
        if function is None:
            continue
        found = references(project, frame.filename, function.name)
        handlers = [h for h in found if _is_handler(h)]
        if not handlers:
            continue
        before = frames[index - 1] if index else None
        if before is not None and any(
            h.runner == "call" and (h.path, h.line) == (before.filename, before.lineno)
            for h in found
        ):
            continue
        return frame, function, handlers
    return None


def _is_handler(handoff: Handoff) -> bool:
    return handoff.runner in HANDLER_RUNNERS


def _fact(handler: Handoff) -> dict[str, object]:
    return {"path": handler.path, "line": handler.line, "runner": handler.runner}


def _explanation(
    function: ast.FunctionDef, path: str, failed: int, handlers: Sequence[Handoff]
) -> str:
    kinds = {handler.runner for handler in handlers}
    what = " and ".join(
        name
        for kind, name in (("atexit", "an atexit callback"), ("signal", "a signal handler"))
        if kind in kinds
    )
    when = (
        "at exit, after every context was popped"
        if kinds == {"atexit"}
        else "whenever the signal arrives, between two statements of the main thread"
    )
    return (
        f"{function.name}() ({path}:{function.lineno}) is {what} (registered at "
        f"{describe(handlers)}) and needs an app context at {path}:{failed}. The interpreter "
        f"calls it {when}, outside any request, `flask` command or `with app.app_context():` "
        "block, so no app context is pushed."
    )
