"""CTX117 executor-call-in-async-view-without-context: ``run_in_executor`` drops Flask's context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_context_error
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.scheduled_job.handoff import REQUEST_GLOBALS
from tracefix.recipes.scheduled_job.handoff import first_context_use
from tracefix.recipes.scheduled_job.handoff import handed_frame
from tracefix.recipes.scheduled_job.handoff import qualified_reads
from tracefix.recipes.scheduled_job.handoff import resolve_function

#: The event loop's method this cause goes through.
EXECUTOR_METHOD = "run_in_executor"
#: The worker thread's frame that runs what ``run_in_executor`` handed to the pool.
EXECUTOR_RUNNER_FRAMES = (("concurrent/futures/thread.py", "run"),)


class ExecutorCallInAsyncViewWithoutContext(Recipe):
    """An async view awaits `run_in_executor`, whose function runs without the view's context.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` (or `... of request
    context.`) raised in a function run by a `concurrent.futures` worker thread, where the frame
    that waited for it is an `async def` (a Flask async view, or a coroutine it awaits) at an
    `await <loop>.run_in_executor(executor, function, *args)` that hands over that very
    function.

    `tracefix scan` finds the same calls from the code: an awaited `run_in_executor` in an
    `async def` that hands over a project function reading `current_app`, `g`, `request`,
    `session`, a Flask-SQLAlchemy `db.session` or a model's `query`.

    ## Why is this bad?
    Flask keeps its contexts in context variables. An async view runs with them (Flask's
    `asgiref` bridge copies them in), but `loop.run_in_executor` does not copy context variables
    into the worker thread (python/cpython#78195, closed as "won't fix"), so the function starts
    with no app and no request context, while `asyncio.to_thread` copies them.

    ## Example
        @app.get("/report")
        async def report():
            loop = asyncio.get_running_loop()
            rows = await loop.run_in_executor(None, load_rows, request.args["month"])
            return render_template("report.html", rows=rows)

    ## Use instead
        @app.get("/report")
        async def report():
            rows = await asyncio.to_thread(load_rows, request.args["month"])
            return render_template("report.html", rows=rows)

    With an executor of its own (`run_in_executor(pool, load_rows, ...)`), the call keeps its
    executor and runs the function in a copy of the view's context:
    `run_in_executor(pool, contextvars.copy_context().run, load_rows, ...)`, which is what
    `asyncio.to_thread` does with the default one.

    ## Fix safety
    Safe. The function runs in the same thread pool as before, with a copy of the awaiting
    code's context variables: the view's app context, its request and its `g`, and the same
    Flask-SQLAlchemy session, which the view does not use meanwhile since it is waiting for the
    call. Only a call awaited on its own is changed, never one gathered with others
    (`asyncio.gather`), where two threads could use that session at once. A loop variable left
    unused by the change (`loop = asyncio.get_running_loop()`) is removed.

    ## References
    - Python docs: `asyncio.to_thread` ("the current contextvars.Context is propagated"),
      `contextvars.copy_context`; python/cpython#78195
    - Flask docs, "Using async and await"
    - docs/context-errors.md §1.11 `async_executor_no_context`, §1.6 `executor_no_context`
    """

    code = "CTX117"
    reads_the_app = True
    name = "executor-call-in-async-view-without-context"
    summary = "An async view's run_in_executor runs a function without the view's Flask context"
    fix_title = "Await asyncio.to_thread (or run the function in a copy of the view's context)"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

        if not is_context_error(event.exception):
            return None
        frame = handed_frame(event.frames, project, EXECUTOR_RUNNER_FRAMES)
        if frame is None:
            return None
        awaiting = _awaiting_frame(event.frames, project, frame)
        if awaiting is None or awaiting.lineno is None:
            return None
        source = project.source(awaiting.filename) or ""
        line = relocate_line(source, awaiting.lineno, awaiting.context_line)
        if line is None:
            return None
        found = [
            awaited
            for awaited in executor_awaits_at(project, awaiting.filename, line)
            if _handed_name(awaited.call) == frame.function and not _copies_context(awaited.call)
        ]
        if not found:
            return None
        awaited = found[0]
        explanation = _explanation(awaiting.filename, awaited.coroutine, awaited.call, frame)
        if not awaited.alone:
            explanation += _GATHERED
        return self.diagnosis(
            explanation,
            Location(awaiting.filename, line, awaited.call.col_offset + 1),
            path=awaiting.filename,
            line=line,
            statement=(awaiting.context_line or "").strip(),
            coroutine=awaited.coroutine.name,
            function=frame.function,
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        tree = project.ast(path)
        if tree is None or not project.may_name(path, EXECUTOR_METHOD):
            return
        for awaited in _executor_awaits(tree):
            coroutine, call = awaited.coroutine, awaited.call
            if not awaited.alone or _copies_context(call) or len(call.args) < 2:
                continue
            target = resolve_function(project, path, call.args[1], coroutine)
            if target is None:
                continue
            target_path, function = target
            needs = first_context_use(project, target_path, function) is not None or any(
                name in REQUEST_GLOBALS for name in qualified_reads(project, target_path, function)
            )
            if not needs:
                continue
            handed = Frame(target_path, function.name, function.lineno, in_app=True)
            yield self.diagnosis(
                _explanation(path, coroutine, call, handed),
                Location(path, call.lineno, call.col_offset + 1),
                path=path,
                line=call.lineno,
                statement=_line(project, path, call.lineno),
                coroutine=coroutine.name,
                function=function.name,
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes._codemod import relocate_line
        from tracefix.recipes.async_executor.fix import copy_context_into_executor_call

        path = str(diagnosis.facts["path"])
        source = project.source(path)
        if source is None:
            raise SkipFix(f"{path} is not in the project")
        line = relocate_line(source, int(diagnosis.facts["line"]), diagnosis.facts.get("statement"))
        if line is None:
            raise SkipFix(f"{path} no longer has the line the event saw")
        function = str(diagnosis.facts["function"])
        found = [
            awaited
            for awaited in executor_awaits_at(project, path, line)
            if _handed_name(awaited.call) == function
        ]
        if not found:
            raise SkipFix(f"{path}:{line} no longer awaits a run_in_executor call of {function}()")
        if len(found) > 1 or not found[0].alone:
            raise SkipFix(
                f"the run_in_executor calls at {path}:{line} are awaited together, so they run "
                "side by side: a copy of the view's context in each would share its "
                "Flask-SQLAlchemy session between threads at once; pass the values "
                f"{function}() reads from the context instead"
            )
        awaited = found[0]
        if _copies_context(awaited.call):
            raise SkipFix(f"the call at {path}:{line} already runs in a copy of the context")
        after = copy_context_into_executor_call(project.cst(path), awaited.call, awaited.coroutine)
        return (FileChange(path, source, after.code),)


@dataclass(frozen=True)
class AwaitedExecutorCall:
    """A ``<loop>.run_in_executor(...)`` call an ``async def`` awaits."""

    coroutine: ast.AsyncFunctionDef
    awaited: ast.Await
    call: ast.Call
    #: Whether the ``await`` is of this call alone (not of ``asyncio.gather(...)`` of several).
    alone: bool


def executor_awaits_at(project: Project, path: str, line: int) -> list[AwaitedExecutorCall]:
    """The ``run_in_executor`` calls awaited by an ``await`` that spans ``line`` of ``path``."""
    tree = project.ast(path)
    if tree is None:
        return []
    return [
        awaited
        for awaited in _executor_awaits(tree)
        if awaited.awaited.lineno <= line <= (awaited.awaited.end_lineno or awaited.awaited.lineno)
    ]


def _executor_awaits(tree: ast.Module) -> Iterable[AwaitedExecutorCall]:
    """Each ``run_in_executor`` call inside an ``await`` of an ``async def``, with its args
    written out (no ``*args`` for the executor or the function, no keywords)."""
    for coroutine in walk(tree):
        if not isinstance(coroutine, ast.AsyncFunctionDef):
            continue
        for node in _own_walk(coroutine):
            if not isinstance(node, ast.Await):
                continue
            for inner in walk(node.value):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == EXECUTOR_METHOD
                    and not any(isinstance(a, ast.Starred) for a in inner.args[:2])
                    and not inner.keywords
                ):
                    yield AwaitedExecutorCall(coroutine, node, inner, inner is node.value)


def _own_walk(function: ast.AsyncFunctionDef) -> Iterable[ast.AST]:
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            pending.extend(child_nodes(node))


def _awaiting_frame(frames: Sequence[Frame], project: Project, handed: Frame) -> Frame | None:
    """The project frame that awaited the executor call: the last one before the worker's."""
    index = frames.index(handed)
    for frame in reversed(frames[:index]):
        if frame.in_app and project.source(frame.filename) is not None:
            return frame
    return None


def _handed_name(call: ast.Call) -> str | None:
    """The name of the function ``run_in_executor`` runs: ``f``, ``mod.f``, ``partial(f, x)``."""
    if len(call.args) < 2:
        return None
    handed = call.args[1]
    if isinstance(handed, ast.Call) and _last_name(handed.func) == "partial" and handed.args:
        handed = handed.args[0]
    if isinstance(handed, ast.Lambda):
        return "<lambda>"
    return _last_name(handed)


def _copies_context(call: ast.Call) -> bool:
    """Whether the handed function is already ``<context>.run`` (``copy_context().run``)."""
    return len(call.args) > 1 and _last_name(call.args[1]) == "run"


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _line(project: Project, path: str, line: int) -> str:
    lines = (project.source(path) or "").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _explanation(path: str, coroutine: ast.AsyncFunctionDef, call: ast.Call, handed: Frame) -> str:
    executor = "the default executor" if _is_none(call.args[0]) else "an executor"
    return (
        f"{coroutine.name}() awaits `run_in_executor` at {path}:{call.lineno}, which runs "
        f"{handed.function}() ({handed.filename}:{handed.lineno}) in a thread of {executor} "
        "without the context variables Flask keeps its app and request contexts in: unlike "
        "`asyncio.to_thread`, `run_in_executor` does not copy them into the thread."
    )


_GATHERED = (
    " The call is awaited together with others (`asyncio.gather`), so the functions run side "
    "by side: copying the view's context into each would share its Flask-SQLAlchemy session "
    "between threads at once, so no fix is offered."
)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
