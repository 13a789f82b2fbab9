"""CTX113 scheduled-job-without-app-context: a scheduler runs a job that needs an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.event import Event
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.scheduled_job.handoff import Handoff
from tracefix.recipes.scheduled_job.handoff import check_no_request_reads
from tracefix.recipes.scheduled_job.handoff import check_others_are_calls
from tracefix.recipes.scheduled_job.handoff import check_unshadowed
from tracefix.recipes.scheduled_job.handoff import failing_line_has_context
from tracefix.recipes.scheduled_job.handoff import fix_target
from tracefix.recipes.scheduled_job.handoff import handed_context_users
from tracefix.recipes.scheduled_job.handoff import handed_frame
from tracefix.recipes.scheduled_job.handoff import has_context
from tracefix.recipes.scheduled_job.handoff import location_of
from tracefix.recipes.scheduled_job.handoff import module_names_of_kind
from tracefix.recipes.scheduled_job.handoff import references
from tracefix.recipes.scheduled_job.handoff import target_function
from tracefix.recipes.scheduled_job.handoff import unfollowed
from tracefix.recipes.scheduled_job.handoff import where

#: The library frames that call a job: APScheduler's executors, Flask-APScheduler's
#: ``run_job`` (its "run now" API), ``schedule``'s ``Job.run``.
JOB_RUNNER_FRAMES = (
    ("apscheduler/executors/base.py", "run_job"),
    ("apscheduler/executors/base.py", "run_coroutine_job"),
    ("apscheduler/executors/base_py3.py", "run_coroutine_job"),
    ("flask_apscheduler/scheduler.py", "run_job"),
    ("schedule/__init__.py", "run"),
)
JOB_RUNNERS = frozenset({"apscheduler", "flask_apscheduler", "schedule"})
RUNNER_NAMES = {
    "apscheduler": "APScheduler",
    "flask_apscheduler": "Flask-APScheduler",
    "schedule": "schedule",
}


#: The packages whose runners this recipe follows; ``detect`` skips a project without them.
RUNNER_PACKAGES = ("apscheduler", "flask_apscheduler", "schedule")


class ScheduledJobWithoutAppContext(Recipe):
    """A scheduled job uses Flask's app context, and schedulers run jobs without one.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a project function
    that a scheduler called: APScheduler's executor (`apscheduler/executors/base.py`
    `run_job`), Flask-APScheduler's `run_job`, or `schedule`'s `Job.run`, where the project
    hands that function to the scheduler: `scheduler.add_job(job, ...)`,
    `@scheduler.scheduled_job(...)`, Flask-APScheduler's `@scheduler.task(...)`,
    `scheduler.add_job(id, job, ...)` or `"pkg.jobs:job"` in its `JOBS`, or
    `schedule.every(...).do(job)` and `@schedule.repeat(...)`. The scheduler object is followed
    to what made it (`BackgroundScheduler()`, `APScheduler()`), here or in the module it is
    imported from.

    `tracefix scan` finds the same jobs from the code: a function handed to a scheduler that
    reads `current_app`, `g`, `url_for`, a Flask-SQLAlchemy `db.session` or a model's `query`
    and pushes no context.

    ## Why is this bad?
    A scheduler calls the job on its own, in a worker thread or a loop, never inside a request or
    a `flask` command, so nothing has pushed an app context. Flask-APScheduler does not push one
    either. APScheduler catches the job's exception and only logs
    `Job "job (trigger: ...)" raised an exception`: the process carries on, and the job's work
    is silently never done, every time it runs.

    ## Example
        # jobs.py
        from app import db, scheduler

        @scheduler.task("interval", id="expire_carts", minutes=10)
        def expire_carts():
            db.session.execute(db.delete(Cart).where(Cart.expires_at < utcnow()))
            db.session.commit()

    ## Use instead
        # jobs.py
        from app import db, scheduler

        @scheduler.task("interval", id="expire_carts", minutes=10)
        def expire_carts():
            with scheduler.app.app_context():
                db.session.execute(db.delete(Cart).where(Cart.expires_at < utcnow()))
                db.session.commit()

    With Flask-APScheduler the job takes the app the scheduler was initialised with
    (`scheduler.app`, the maintainers' answer). Otherwise, when the job's module has the
    project's app (`app = Flask(__name__)`, `from app import app`), the job's body goes under
    `with app.app_context():`. In a project that makes its app with a factory and registers the
    job where that app is at hand (`scheduler.add_job(cleanup, "interval", hours=1)` inside
    `create_app`, or `schedule.every().hour.do(report)` after `app = create_app()`), the job gets
    that app as its first argument (`args=[app]`, `.do(report, app)`) and pushes its context.

    ## Fix safety
    Unsafe. Each run of the job now has a context of its own: its `g` starts empty and its
    Flask-SQLAlchemy session is its own, removed when the run ends. The fix is offered only when
    every reference to the job is a registration with a scheduler, so no view or test that calls
    it directly gets a second context; never when the job reads `request`, `session` or
    `current_user`, which a job cannot have. The app is never made anew in the job (that would
    lose the running app's configuration); it is passed as an argument only to jobs kept in
    memory (job stores pickle their arguments, and an app does not pickle): any job store in the
    project means no such fix. A scheduler started at import runs once per worker process
    (gunicorn, the reloader): that is another problem, left as it is.

    ## References
    - Flask-APScheduler issue #176 and its removed COMMON-ISSUES.md: "include
      `with scheduler.app.app_context():`" in each job that needs the app context
    - Flask docs, "The Application Context": Manually Push a Context
    - docs/context-errors.md §1.10 `scheduler_job_no_context`, §3.2 `second_app_instance`
    """

    code = "CTX113"
    name = "scheduled-job-without-app-context"
    summary = "A scheduled job uses Flask, but schedulers run jobs without an app context"
    fix_title = "Push an app context inside the job, with the app the scheduler or project has"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception):
            return None
        frame = handed_frame(event.frames, project, JOB_RUNNER_FRAMES)
        if frame is None:
            return None
        function = target_function(project, frame)
        if function is None or has_context(function):
            return None
        if failing_line_has_context(project, frame):
            return None
        jobs = [h for h in references(project, frame.filename, function.name) if _is_job(h)]
        assert frame.lineno is not None
        return self.diagnosis(
            _explanation(function, frame.filename, frame.lineno, jobs),
            Location(frame.filename, frame.lineno),
            target={"path": frame.filename, "function": function.name, "line": function.lineno},
            jobs=[_fact(job) for job in jobs],
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        for function, use, jobs in handed_context_users(project, path, RUNNER_PACKAGES, _is_job):
            yield self.diagnosis(
                _explanation(function, path, use.lineno, jobs),
                location_of(path, use),
                target={"path": path, "function": function.name, "line": function.lineno},
                jobs=[_fact(job) for job in jobs],
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.scheduled_job.handoff_fix import fix_with_app
        from tracefix.recipes.scheduled_job.handoff_fix import register_wrapper
        from tracefix.recipes.scheduled_job.handoff_fix import wrap_with_app

        target = fix_target(project, diagnosis, _is_job)
        if not target.handoffs:
            raise SkipFix(unfollowed(target.name, "a scheduler", target.others))
        check_no_request_reads(
            project,
            target,
            "a request; a scheduled job has none: pass the values it needs when the job is added",
        )
        check_others_are_calls(target, "without the scheduler")
        if target.others:
            why = "the scheduler runs its jobs without one"
            return register_wrapper(project, target.function, target.handoffs, why)
        scheduler = _flask_scheduler(project, target.path, target.handoffs)
        if scheduler is not None:
            check_unshadowed(target.function, scheduler)
            return (wrap_with_app(project, target.path, target.name, f"{scheduler}.app"),)
        return fix_with_app(project, target.path, target.function, target.handoffs)


def _is_job(handoff: Handoff) -> bool:
    return handoff.runner in JOB_RUNNERS


def _flask_scheduler(project: Project, path: str, jobs: Sequence[Handoff]) -> str | None:
    """The Flask-APScheduler object's name in the job's module, when every registration of
    the job is with Flask-APScheduler (a decorator, ``add_job`` or a ``JOBS`` entry) and the
    module binds exactly one such object."""
    if not all(job.runner == "flask_apscheduler" or job.form == "string" for job in jobs):
        return None
    names = module_names_of_kind(project, path, "flask_apscheduler")
    return names[0] if len(names) == 1 else None


def _fact(job: Handoff) -> dict[str, object]:
    return {"path": job.path, "line": job.line, "runner": job.runner, "form": job.form}


def _explanation(function: ast.FunctionDef, path: str, failed: int, jobs: Sequence[Handoff]) -> str:
    runners = sorted({RUNNER_NAMES.get(job.runner, "APScheduler") for job in jobs}) or [
        "a scheduler"
    ]
    logs = (
        " APScheduler catches the job's exception and only logs it, so the job's work is "
        "silently lost on every run."
        if any(job.runner != "schedule" for job in jobs)
        else ""
    )
    return (
        f"{function.name}() ({path}:{function.lineno}) is a scheduled job ({' and '.join(runners)}"
        f", registered {where(jobs)}) and needs an app context at {path}:{failed}. A "
        "scheduler calls its jobs on its own, outside any request or `flask` command, so no app "
        f"context is pushed.{logs}"
    )
