"""CTX115 greenlet-target-without-app-context: a gevent/eventlet greenlet needs an app context."""

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
from tracefix.recipes.scheduled_job.handoff import check_no_others
from tracefix.recipes.scheduled_job.handoff import check_no_request_reads
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

#: The library frames that run a greenlet's function: gevent's ``Greenlet.run`` (compiled
#: gevent names it ``gevent._gevent_cgreenlet.Greenlet.run``) and eventlet's ``main``.
GREENLET_RUNNER_FRAMES = (
    ("gevent/greenlet.py", "run"),
    ("eventlet/greenthread.py", "main"),
)


#: The packages whose runners this recipe follows; ``detect`` skips a project without them.
RUNNER_PACKAGES = ("gevent", "eventlet")


class GreenletTargetWithoutAppContext(Recipe):
    """A function run in a gevent or eventlet greenlet uses Flask's app context, which it has not.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a project function
    that a greenlet ran (the frame after gevent's `Greenlet.run` or eventlet's `greenthread.main`),
    where the project hands that function to `gevent.spawn`, `gevent.spawn_later`,
    `Greenlet.spawn`, a `gevent.pool.Pool`'s `spawn`, `eventlet.spawn`, `eventlet.spawn_after`
    or a `GreenPool`'s `spawn`: typically a view that fans work out to greenlets and joins them
    (`gevent.joinall(jobs, raise_error=True)`), which re-raises the error in the view.

    `tracefix scan` finds the same functions from the code: handed to a greenlet, reading
    `current_app`, `g`, `url_for`, a Flask-SQLAlchemy `db.session` or a model's `query`, and
    pushing no context.

    ## Why is this bad?
    Flask keeps its contexts in context variables, and each greenlet has its own, which starts
    empty (greenlet 0.4.17 and later): a greenlet spawned from a view has no app context, even
    though the view has one and even though monkey-patched threads look like one thread. A
    greenlet nobody joins only prints its failure (`<Greenlet ...> failed with RuntimeError`),
    so the work it was spawned for is lost.

    ## Example
        # prices.py
        def fetch_price(sku):
            url = current_app.config["PRICE_API"] + sku
            return requests.get(url, timeout=5).json()["price"]

        # views.py
        @bp.get("/basket")
        def basket():
            jobs = [gevent.spawn(fetch_price, sku) for sku in skus]
            gevent.joinall(jobs, raise_error=True)

    ## Use instead
        # prices.py
        def fetch_price(app, sku):
            with app.app_context():
                url = current_app.config["PRICE_API"] + sku
                return requests.get(url, timeout=5).json()["price"]

        # views.py
        jobs = [
            gevent.spawn(fetch_price, current_app._get_current_object(), sku) for sku in skus
        ]

    When the function's module already has the project's app (`app = Flask(__name__)`,
    `from app import app`) and the project makes no app with a factory, its body only goes
    under `with app.app_context():`.

    ## Fix safety
    Unsafe. The greenlet's work runs in a context of its own: its `g` starts empty and its
    Flask-SQLAlchemy session is its own. The real app is passed (`_get_current_object()`), never
    the `current_app` proxy (it cannot be resolved in the greenlet) and never a second app. The
    fix is offered only when every reference to the function is a spawn, each spawn either runs
    in an app context (a view, a request hook, a Flask command, a helper only those call) or has
    the app at hand, and the function reads no `request`, `session` or `current_user`: for
    those, Flask's gevent docs say to read the values in the view and pass them (or decorate
    the function with `copy_current_request_context`), a change of design this fix does not
    make.

    ## References
    - Flask docs, "Async with Gevent": "decorate the function with `copy_current_request_context`
      ... Prefer passing the exact data you need when spawning the function"
    - Flask docs, "The Request Context": Notes On Proxies (`_get_current_object`)
    - docs/context-errors.md §1.12 `greenlet_no_context`, §3.2 `second_app_instance`
    """

    code = "CTX115"
    name = "greenlet-target-without-app-context"
    summary = "A greenlet's function uses Flask, but a new greenlet starts without an app context"
    fix_title = "Push an app context inside the greenlet's function, with the real app object"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception):
            return None
        frame = handed_frame(event.frames, project, GREENLET_RUNNER_FRAMES)
        if frame is None:
            return None
        function = target_function(project, frame)
        if function is None or has_context(function) or failing_line_has_context(project, frame):
            return None
        spawns = [h for h in references(project, frame.filename, function.name) if _is_spawn(h)]
        assert frame.lineno is not None
        return self.diagnosis(
            _explanation(function, frame.filename, frame.lineno, spawns),
            Location(frame.filename, frame.lineno),
            target={"path": frame.filename, "function": function.name, "line": function.lineno},
            spawns=[{"path": s.path, "line": s.line} for s in spawns],
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        found = handed_context_users(project, path, RUNNER_PACKAGES, _is_spawn)
        for function, use, spawns in found:
            yield self.diagnosis(
                _explanation(function, path, use.lineno, spawns),
                location_of(path, use),
                target={"path": path, "function": function.name, "line": function.lineno},
                spawns=[{"path": s.path, "line": s.line} for s in spawns],
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.scheduled_job.handoff_fix import fix_with_app

        target = fix_target(project, diagnosis, _is_spawn)
        if not target.handoffs:
            raise SkipFix(unfollowed(target.name, "a greenlet", target.others))
        check_no_others(
            target, "; a context pushed inside it, or a new parameter, would change that caller too"
        )
        check_no_request_reads(
            project,
            target,
            "the request, not to the app context; read them in the view and pass the values "
            "instead",
        )
        return fix_with_app(
            project, target.path, target.function, target.handoffs, current_app=True
        )


def _is_spawn(handoff: Handoff) -> bool:
    return handoff.runner == "greenlet"


def _explanation(
    function: ast.FunctionDef, path: str, failed: int, spawns: Sequence[Handoff]
) -> str:
    return (
        f"{function.name}() ({path}:{function.lineno}) runs in a greenlet spawned "
        f"{where(spawns)}, and needs an app context at {path}:{failed}. Flask's contexts are "
        "context variables, and a new greenlet starts with none of them, even when a view "
        "spawned it."
    )
