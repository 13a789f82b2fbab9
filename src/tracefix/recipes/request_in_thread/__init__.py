"""CTX108 request-read-in-thread: a thread or pool task started from a view reads `request`,
`session`, `g` or `current_user`, which stay with the view's request."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_context_error
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes.executor_task import SPAWN_ROLES
from tracefix.recipes.executor_task import Passed
from tracefix.recipes.executor_task import app_for
from tracefix.recipes.executor_task import only_spawned
from tracefix.recipes.executor_task import pool_task_frame
from tracefix.recipes.executor_task import spawned_here
from tracefix.recipes.executor_task import target_facts
from tracefix.recipes.executor_task.reads import REQUEST_GLOBALS
from tracefix.recipes.executor_task.reads import app_use_besides_request
from tracefix.recipes.executor_task.reads import first_request_read
from tracefix.recipes.executor_task.reads import request_reads
from tracefix.recipes.thread_target import all_names
from tracefix.recipes.thread_target import pushes_context
from tracefix.recipes.thread_target import spans
from tracefix.recipes.thread_target import thread_target_frame
from tracefix.recipes.thread_target.spawns import VIEW_DECORATORS
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import bound_name
from tracefix.recipes.thread_target.spawns import references
from tracefix.scan.context_use import analysis

if TYPE_CHECKING:
    import libcst as cst

    from tracefix.recipes.request_in_thread.fix import Read

#: Flask-Login's ``current_user`` is ``None`` outside a request: reading from it fails so.
NONE_ATTRIBUTE = "'NoneType' object has no attribute"
#: What a thread may read in place of the request, that the view can read for it.
REQUEST_CONTEXT_METHODS = frozenset({"test_request_context", "request_context"})
#: Decorators that run a function while Flask handles a request (not a CLI command).
REQUEST_DECORATORS = VIEW_DECORATORS - {"teardown_request"}
#: Request attributes that read the body: a copied request reads them after the response.
BODY_ATTRIBUTES = frozenset({"form", "json", "data", "values", "get_json", "get_data"})
COPYABLE_ROLES = frozenset({"thread", "timer", "submit"})


class RequestReadInThread(Recipe):
    """A function another thread runs reads `request`, `session`, `g` or `current_user`.

    ## What it does
    Matches `RuntimeError: Working outside of request context.` (or `... of application
    context.`, or Flask-Login's `AttributeError: 'NoneType' object has no attribute ...` for
    `current_user`) raised in a `threading.Thread` target, a `threading.Timer` function or a
    `ThreadPoolExecutor` task (the frame right after `threading.py` `run` or
    `concurrent/futures/thread.py` `run`), when that project function reads one of the
    request's globals itself and the project starts it that way.

    `tracefix scan` finds it from the code alone: a function the project starts in a thread,
    a timer or a thread pool whose body reads `request`, `session`, `g` or `current_user`.

    ## Why is this bad?
    The request and its context belong to the thread that handles it, and end when the view
    returns. A new thread has neither; pushing an app context in it does not bring them back
    (`g` is new in each app context). The view still returns 200, so the work the thread should
    have done is lost, with only a traceback in the log.

    ## Example
        @bp.post("/search")
        def search():
            threading.Thread(target=log_search).start()
            return {"results": []}

        def log_search():
            with app.app_context():
                db.session.add(Search(term=request.args["q"], user_id=current_user.id))
                db.session.commit()

    ## Use instead
        @bp.post("/search")
        def search():
            threading.Thread(
                target=log_search, args=(request.args["q"], current_user.id)
            ).start()
            return {"results": []}

        def log_search(q, user_id):
            with app.app_context():
                db.session.add(Search(term=q, user_id=user_id))
                db.session.commit()

    The view reads the values while its request is there and passes them, as Flask's docs
    advise. When the function still needs the app after that (`db.session`, `current_app`), it
    also pushes an app context: with the module's app, or with the running app passed first
    (`current_app._get_current_object()`), as CTX103 does. When it needs the request itself
    (it hands `request` to another function, or reads it only on some paths, where reading it
    in the view could fail), each start hands over `copy_current_request_context(function)`
    instead, made in the view.

    ## Fix safety
    Unsafe. The values are read in the view when the thread starts, not later in the thread:
    an error reading them (a missing form field) now fails the view, which the thread's
    failure did not. A read is moved only when the function makes it on every call before it
    can return or raise, or when it cannot fail (`request.args`, `request.remote_addr`,
    `session.get(...)`, `current_user.is_authenticated`); never a stream (`request.files`),
    which the request closes. The function's signature and its starts change together, so
    the fix is offered only when every reference to the function starts it, and only when
    each start runs in a request (a view, a request hook, a `test_request_context` block, or
    a helper only those call): a thread started from a CLI command or a task has no request
    to read (docs §2.5). `copy_current_request_context` shares the request object with the
    thread, runs `teardown_request` a second time, and starts `g` empty: it is used only when
    values cannot be passed, never for a function that reads `g` or changes the session,
    nor one that reads the request body (read it in the view first), nor with `map`.

    ## References
    - Flask docs, "The Request Context": Lifetime of the Context, Notes On Proxies
    - Flask API, `copy_current_request_context` ("it is often safer ... to pass the data you
      need when starting the task")
    - docs/context-errors.md §2.1 `request_in_thread`, §2.5 `request_in_cli_or_task`
    """

    code = "CTX108"
    name = "request-read-in-thread"
    summary = "A function another thread runs reads the request, which stays with the view"
    fix_title = "Read the values in the view and pass them to the thread"
    applicability = Applicability.UNSAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        frame = pool_task_frame(event.frames) or (
            thread_target_frame(event.frames) if event.in_thread else None
        )
        if frame is None or frame.lineno is None or project.source(frame.filename) is None:
            return None
        path = frame.filename
        function = project.function(path, frame.function)
        if function is None or not spans(function, frame.lineno):
            return None
        reads = request_reads(project, path, function)
        if not reads or not _is_request_failure(event, frame, reads):
            return None
        starts = [r for r in references(project, path, function.name) if r.role in SPAWN_ROLES]
        if not starts:
            return None
        return self.diagnosis(
            _explanation(function, path, frame.lineno, reads, starts),
            Location(path, frame.lineno),
            **target_facts(path, function, starts),
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        context = analysis(project)
        for function, spawns in spawned_here(context, path, SPAWN_ROLES):
            use = first_request_read(context, path, function)
            if use is None:
                continue
            starts = [r for r in references(project, path, function.name) if r.role in SPAWN_ROLES]
            places = ", ".join(f"{spawn.path}:{spawn.line}" for spawn in spawns)
            yield self.diagnosis(
                f"`{use.what}` belongs to the request, but {function.name}() runs in another "
                f"thread, started at {places}, which has no request: read the value in the view "
                "and pass it.",
                Location(path, use.line, use.column),
                **target_facts(path, function, starts),
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes._codemod import top_level_function  # LibCST: loaded only to fix
        from tracefix.recipes.request_in_thread import fix

        path = diagnosis.facts["target"]["path"]
        name = diagnosis.facts["target"]["function"]
        function = project.function(path, name)
        if function is None:
            raise SkipFix(f"{path} no longer defines {name}()")
        starts = only_spawned(project, path, name)
        for start in starts:
            if not runs_in_request(project, start):
                raise SkipFix(
                    f"{name}() is started at {start.path}:{start.line}, where no request is "
                    "active: there is nothing to read its values from; pass them from the "
                    "request that has them, or as arguments of the command"
                )
        spellings = _spellings(project, path, function)
        reads = fix.request_reads(top_level_function(project.cst(path), name), spellings)
        if not reads:
            raise SkipFix(f"{name}() no longer reads the request")
        writes = [read for read in reads if read.writes]
        if writes:
            raise SkipFix(
                f"{name}() {writes[0].reason}: a thread's change to the session is lost, as its "
                "cookie went out with the response; make the change in the view"
            )
        blocked = [read for read in reads if not read.hoistable]
        if not blocked:
            return self._pass_values(project, path, function, starts, reads, spellings)
        return self._copy_request(project, path, function, starts, blocked[0].reason)

    def _pass_values(
        self,
        project: Project,
        path: str,
        function: ast.FunctionDef,
        starts: Sequence[Reference],
        reads: Sequence[Read],
        spellings: dict[str, str],
    ) -> tuple[FileChange, ...]:
        from tracefix.recipes.executor_task.fix import hand_over
        from tracefix.recipes.request_in_thread import fix

        name = function.name
        wrap_with = None
        passed: list[Passed] = []
        if not pushes_context(function) and app_use_besides_request(
            analysis(project), path, function
        ):
            passed, wrap_with = app_for(project, path, function, starts)
        taken = all_names(function) | {value.parameter for value in passed}
        names = fix.parameter_names(reads, taken)
        passed += [Passed(names[read], read.rest, read.root) for read in dict.fromkeys(reads)]

        def hoist(module: cst.Module) -> cst.Module:
            return fix.hoist_reads(module, name, spellings, names)

        return hand_over(
            project, path, name, starts, passed, wrap_with=wrap_with, edit_target=hoist
        )

    def _copy_request(
        self,
        project: Project,
        path: str,
        function: ast.FunctionDef,
        starts: Sequence[Reference],
        why: str,
    ) -> tuple[FileChange, ...]:
        from tracefix.recipes.request_in_thread import fix

        name = function.name
        reads = request_reads(project, path, function)
        refuse = f"{name}() cannot be given values ({why}), and "
        if "g" in reads:
            raise SkipFix(refuse + "it reads `g`, which a copied request context starts empty")
        body = _body_reads(project, path, function)
        if body:
            raise SkipFix(
                refuse + f"it reads `request.{body}`, the request body, after the response; "
                "read it in the view first"
            )
        for start in starts:
            if start.role not in COPYABLE_ROLES:
                raise SkipFix(refuse + f"{start.path}:{start.line} maps it over a pool")
        return fix.wrap_handed(project, starts)


def runs_in_request(project: Project, start: Reference) -> bool:
    """Whether the code at ``start`` runs while Flask handles a request: in a view or a request
    hook, a ``test_request_context`` block, or a function only those call."""
    if _in_request(project, start.path, start.line, start.function):
        return True
    if start.function is None:
        return False
    callers = references(project, start.path, start.function)
    return bool(callers) and all(
        caller.role == "call" and _in_request(project, caller.path, caller.line, caller.function)
        for caller in callers
    )


def _in_request(project: Project, path: str, line: int, function_name: str | None) -> bool:
    """Whether ``line`` of ``path`` is in a view or request hook (the innermost function
    around it, top-level or registered inside a factory) or in a ``test_request_context``
    block."""
    tree = project.ast(path)
    if tree is None:
        return False
    around = [
        node
        for node in walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.lineno < line <= (node.end_lineno or node.lineno)
    ]
    innermost = max(around, key=lambda node: node.lineno, default=None)
    if isinstance(innermost, ast.FunctionDef) and _is_request_handler(innermost):
        return True
    return any(
        isinstance(node, ast.With)
        and node.lineno < line <= (node.end_lineno or node.lineno)
        and any(_makes_request_context(item.context_expr) for item in node.items)
        for node in walk(tree)
    )


def _makes_request_context(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in REQUEST_CONTEXT_METHODS
    )


def _is_request_handler(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        func = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(func, ast.Attribute) and func.attr in REQUEST_DECORATORS:
            return True
    return False


def _is_request_failure(event: Event, frame: Frame, reads: Sequence[str]) -> bool:
    """A context error, or Flask-Login's ``current_user`` being ``None`` at the target's line."""
    exception: ExceptionInfo = event.exception
    if is_context_error(exception):
        return True
    return (
        exception.type == "AttributeError"
        and exception.first_line.startswith(NONE_ATTRIBUTE)
        and "current_user" in reads
        and event.trigger_frame() == frame
        and "current_user" in (frame.context_line or "")
    )


def _spellings(project: Project, path: str, function: ast.FunctionDef) -> dict[str, str]:
    """How ``path`` names each request global inside ``function``: name -> qualified."""
    found = {}
    for qualified in REQUEST_GLOBALS:
        spelling = bound_name(project, path, qualified, function.lineno + 1)
        if spelling is not None:
            found[spelling] = qualified
    return found


def _body_reads(project: Project, path: str, function: ast.FunctionDef) -> str | None:
    """The first request-body attribute ``function`` reads (``form``), if any."""
    spellings = _spellings(project, path, function)
    for node in walk(function):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in BODY_ATTRIBUTES
            and REQUEST_GLOBALS.get(spellings.get(ast.unparse(node.value), "")) == "request"
        ):
            return node.attr
    return None


def _explanation(
    function: ast.FunctionDef,
    path: str,
    line: int,
    reads: Sequence[str],
    starts: Sequence[Reference],
) -> str:
    places = ", ".join(f"{start.path}:{start.line}" for start in starts)
    what = ", ".join(f"`{read}`" for read in reads)
    return (
        f"{function.name}() ({path}:{function.lineno}) runs in another thread, started at "
        f"{places}, and reads {what}, failing at {path}:{line}. The request and its context "
        "belong to the thread that handles it and end when the view returns; a new thread has "
        "neither, and an app context does not bring them back. The code that started it "
        "carried on (a view still returns 200), so the thread's work was lost."
    )
