"""CTX109 streamed-response-without-context: a response generator reads Flask's contexts after
the view has returned."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_context_error
from tracefix.diagnose.signatures import is_library_frame
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.streamed_response.bodies import BodyCall
from tracefix.recipes.streamed_response.bodies import Generator
from tracefix.recipes.streamed_response.bodies import body_calls
from tracefix.recipes.streamed_response.bodies import generator_at
from tracefix.recipes.streamed_response.bodies import generators_in
from tracefix.recipes.streamed_response.bodies import handles_requests
from tracefix.recipes.streamed_response.bodies import writes_session
from tracefix.scan.context_use import analysis

#: Werkzeug's loop over a response body: the frame that runs a streamed generator, under the
#: development server, gunicorn and the test client alike; in the file of each Werkzeug line
#: (2.0 on, 0.15 to 1.0, before 0.15: the last under Flask 0.12, as flasky still pins).
BODY_LOOPS = tuple(
    (module, "_iter_encoded")
    for module in (
        "werkzeug/wrappers/response.py",
        "werkzeug/wrappers/base_response.py",
        "werkzeug/wrappers.py",
    )
)


class StreamedResponseWithoutContext(Recipe):
    """A streamed response's generator reads `request`, `session`, `g` or the app after the
    view has returned, without `stream_with_context`.

    ## What it does
    Matches `RuntimeError: Working outside of request context.` (or `... of application
    context.`) raised in a project generator that Werkzeug iterates as a response body (the
    frame before it is Werkzeug's `_iter_encoded`, in `werkzeug/wrappers/response.py` or an
    older release's file), when a view hands that generator's call to `Response(...)`
    (`flask.Response`, Werkzeug's, `app.response_class`, `make_response`) or returns it
    (`return generate()`, `return generate(), headers`), itself or through a name. The
    generator may be nested in the view or a function of any module, and the view may be a
    class-based view's method (a `MethodView`'s `get`).

    `tracefix scan` finds it from the code alone: a generator handed over so whose body reads
    the request, the session, `g`, `current_app`, `url_for`, `render_template` or
    Flask-SQLAlchemy's `db.session`, itself or in the project functions it calls.

    ## Why is this bad?
    Flask runs a streamed body after the view has returned and after it has popped the request
    and app contexts. The status line and headers are already sent (`200`), so the client
    gets a cut-off body and the error shows only in the server's log (`Error on request`).

    ## Example
        @bp.get("/orders.csv")
        def export_orders():
            def generate():
                for order in Order.query.filter_by(status=request.args["status"]):
                    yield f"{order.id},{order.total}\\n"

            return Response(generate(), mimetype="text/csv")

    ## Use instead
        from flask import stream_with_context

        @bp.get("/orders.csv")
        def export_orders():
            def generate():
                ...

            return Response(stream_with_context(generate()), mimetype="text/csv")

    `stream_with_context` is imported the way the file imports Flask (`from flask import ...`, or
    `flask.stream_with_context` where it does `import flask`).

    ## Fix safety
    Safe. `stream_with_context` keeps the request's own context (its `request`, `session`, `g`
    and app) pushed while the body streams, as Flask's docs prescribe; nothing else changes.
    It keeps a database connection checked out until the stream ends, as the view held it
    before. The fix wraps only calls made in a view (a route, an error handler, a
    `before_request` hook, a view registered with `add_url_rule`, a class-based view's `get`
    or `post`, or a helper only those call), where a request context is active, as
    `stream_with_context` requires. It is not offered when the generator changes the session
    (its cookie went out with the headers, so the change would be lost quietly). A generator
    decorated with `@copy_current_request_context` is wrapped too: that decorator pushes the
    context only while the generator is created, not while it runs, and is left as it is.

    ## References
    - Flask docs, "Streaming Contents": Streaming with Context
    - Flask API, `flask.stream_with_context`
    - docs/context-errors.md §2.2 `request_in_streamed_generator`
    """

    code = "CTX109"
    name = "streamed-response-without-context"
    summary = "A streamed response's generator uses Flask after the view returned"
    fix_title = "Wrap the generator in `stream_with_context(...)` where the view hands it over"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_context_error(event.exception):
            return None
        frame = body_frame(event.frames)
        if frame is None or frame.lineno is None or project.source(frame.filename) is None:
            return None
        generator = generator_at(project, frame.filename, frame.function, frame.lineno)
        if generator is None:
            return None
        calls = [call for call in body_calls(project, generator) if not call.wrapped]
        if not calls:
            return None
        trigger = event.trigger_frame() or frame
        return self.diagnosis(
            _explanation(generator, calls, trigger),
            Location(trigger.filename, trigger.lineno or frame.lineno),
            **generator_facts(generator, calls),
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        context = analysis(project)
        for generator in generators_in(project, path):
            scope = context.function_scope(path, generator.node)
            use = context.first_use(generator.node.body, scope)
            if use is None:
                continue
            calls = [call for call in body_calls(project, generator) if not call.wrapped]
            if not calls:
                continue
            places = ", ".join(f"{call.path}:{call.line}" for call in calls)
            kind = "a request" if use.kind == "request" else "an app context"
            explanation = (
                f"{use.describe()} needs {kind}, but {generator.node.name}() is a response "
                f"body streamed from {places}, which Flask runs after the view has returned and "
                "its contexts are gone."
            )
            unfixable = _why_no_fix(project, generator, calls)
            facts = {"reason": unfixable} if unfixable else {}
            if unfixable:
                explanation += f" No fix is offered: {unfixable}."
            yield self.diagnosis(
                explanation,
                Location(path, use.line, use.column),
                **generator_facts(generator, calls),
                **facts,
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes.streamed_response.fix import wrap_calls  # LibCST: only to fix

        facts = diagnosis.facts["generator"]
        generator = generator_at(project, facts["path"], facts["function"], facts["line"])
        if generator is None:
            raise SkipFix(f"{facts['path']} no longer defines the generator {facts['function']}()")
        todo = [call for call in body_calls(project, generator) if not call.wrapped]
        if not todo:
            raise SkipFix(
                f"every call of {generator.node.name}() that streams is already in "
                "stream_with_context"
            )
        unfixable = _why_no_fix(project, generator, todo)
        if unfixable:
            raise SkipFix(unfixable)
        return wrap_calls(project, todo)


def _why_no_fix(project: Project, generator: Generator, todo: Sequence[BodyCall]) -> str | None:
    """Why wrapping the calls ``todo`` of ``generator`` in ``stream_with_context`` is unsafe."""
    if writes_session(project, generator):
        return (
            f"{generator.node.name}() changes the session, whose cookie went out with the headers "
            "before the body streams: the change would be lost; make it in the view"
        )
    for call in todo:
        if analysis(project).in_view_method(call.path, call.line):
            continue  # a class-based view's ``get``: Flask runs it only for a request
        function = project.function(call.path, call.function)
        if function is None or not handles_requests(project, call.path, function):
            return (
                f"{call.function}() ({call.path}:{call.line}) may run outside a request, where "
                "stream_with_context() raises"
            )
    return None


def body_frame(frames: Sequence[Frame]) -> Frame | None:
    """The project generator Werkzeug iterated as a response body, or ``None``."""
    found = None
    for before, after in zip(frames, frames[1:], strict=False):
        if any(is_library_frame(before, *loop) for loop in BODY_LOOPS):
            found = after if after.in_app else None
    return found


def generator_facts(generator: Generator, calls: Sequence[BodyCall]) -> dict[str, object]:
    return {
        "generator": {
            "path": generator.path,
            "function": generator.node.name,
            "line": generator.node.lineno,
        },
        "calls": [{"path": c.path, "line": c.line, "function": c.function} for c in calls],
    }


def _explanation(generator: Generator, calls: Sequence[BodyCall], trigger: Frame) -> str:
    name = generator.node.name
    places = ", ".join(f"{call.path}:{call.line}" for call in calls)
    return (
        f"{name}() ({generator.path}:{generator.node.lineno}) is a streamed response body, "
        f"handed over at {places}, and needs Flask's context at "
        f"{trigger.filename}:{trigger.lineno}. Flask runs a streamed body only after the view "
        "has returned and popped its request and app contexts; the client already got a 200 "
        "and its headers, and now gets a cut-off body."
    )
