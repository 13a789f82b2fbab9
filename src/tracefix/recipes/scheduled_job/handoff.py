"""Functions a project hands to something that calls them later, with no Flask context.

A scheduler (APScheduler, Flask-APScheduler, ``schedule``), ``atexit``, ``signal``, a greenlet
library (gevent, eventlet) or a process (``multiprocessing``, ``ProcessPoolExecutor``) calls the
function it was given on its own: in a scheduler thread, at exit, between two bytecodes of the
main thread, in a new greenlet, in another process. None of these has a Flask context. CTX113 to
CTX116 find the function from the event's frames (the runner's frame, then the project's), then
read the project here: every reference to the function, each a *handoff* to one of those
runners, a direct call, or another use.

Names are resolved as Python binds them, from the code alone (imports, aliases, re-exports,
``module.function``), and objects by what made them: ``scheduler = BackgroundScheduler()`` here
or in the module it is imported from, ``with ctx.Pool(4) as pool:`` after
``ctx = multiprocessing.get_context("spawn")``. Whatever cannot be followed (``self.scheduler``,
an object handed in as a parameter) is not a handoff, so a fix that needs every reference to be
one skips: a wrong patch is worse than none.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass

from tracefix.diagnose.apps import app_name_at
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.flask_sqlalchemy import CONTEXT_ATTRIBUTES
from tracefix.diagnose.flask_sqlalchemy import runs_without_context
from tracefix.diagnose.nodes import walk as walk_nodes
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import per_project
from tracefix.event import Frame
from tracefix.recipes._base import SkipFix
from tracefix.recipes._scopes import Assigned
from tracefix.recipes._scopes import Scope
from tracefix.recipes._scopes import ScopeWalker
from tracefix.recipes._scopes import all_arguments
from tracefix.recipes.thread_target import runs_in_app_context
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.scan.context_use import analysis


@dataclass(frozen=True)
class Spec:
    """How one kind of call hands a function over."""

    runner: str
    #: Where the function is among the positional arguments, and its keyword.
    position: int
    keyword: str | None
    #: How an extra first argument reaches the function: ``"after"`` (a positional argument
    #: right after it, as ``atexit.register(f, *args)``), ``"args"`` (APScheduler's ``args=``),
    #: ``"partial"`` (``functools.partial(f, app)`` in its place, for ``signal.signal``), or
    #: ``None`` when it cannot.
    passing: str | None


#: Module-level callables that hand a function over, by qualified name.
FUNCTION_HANDOFFS: dict[str, Spec] = {
    "atexit.register": Spec("atexit", 0, None, "after"),
    "signal.signal": Spec("signal", 1, "handler", "partial"),
    **{
        f"{prefix}.{name}": Spec("greenlet", position, None, "after")
        for prefix in ("gevent", "gevent.Greenlet", "gevent.greenlet.Greenlet")
        for name, position in (("spawn", 0), ("spawn_later", 1), ("spawn_raw", 0))
    },
    "gevent.Greenlet": Spec("greenlet", 0, "run", "after"),
    "gevent.greenlet.Greenlet": Spec("greenlet", 0, "run", "after"),
    **{
        f"{prefix}.{name}": Spec("greenlet", position, None, "after")
        for prefix in ("eventlet", "eventlet.greenthread")
        for name, position in (("spawn", 0), ("spawn_n", 0), ("spawn_after", 1))
    },
    "multiprocessing.Process": Spec("process", 1, "target", None),
    "multiprocessing.context.Process": Spec("process", 1, "target", None),
}

#: What a call of these makes, by qualified name: the object's kind, for its methods below.
CONSTRUCTORS: dict[str, str] = {
    **{
        f"apscheduler.schedulers.{module}.{name}": "apscheduler"
        for module, name in (
            ("background", "BackgroundScheduler"),
            ("blocking", "BlockingScheduler"),
            ("asyncio", "AsyncIOScheduler"),
            ("gevent", "GeventScheduler"),
            ("tornado", "TornadoScheduler"),
            ("twisted", "TwistedScheduler"),
            ("qt", "QtScheduler"),
        )
    },
    "flask_apscheduler.APScheduler": "flask_apscheduler",
    "flask_apscheduler.scheduler.APScheduler": "flask_apscheduler",
    "schedule.Scheduler": "schedule",
    "multiprocessing.Pool": "pool",
    "multiprocessing.pool.Pool": "pool",
    "multiprocessing.get_context": "mp_context",
    "concurrent.futures.ProcessPoolExecutor": "process_pool",
    "concurrent.futures.process.ProcessPoolExecutor": "process_pool",
    "gevent.pool.Pool": "gevent_pool",
    "gevent.pool.Group": "gevent_pool",
    "eventlet.GreenPool": "eventlet_pool",
    "eventlet.greenpool.GreenPool": "eventlet_pool",
}
#: ``ctx.Pool(...)`` on a ``multiprocessing.get_context()`` makes a pool.
MADE_BY_METHOD: dict[tuple[str, str], str] = {("mp_context", "Pool"): "pool"}

_POOL_METHODS = (
    "map",
    "map_async",
    "imap",
    "imap_unordered",
    "starmap",
    "starmap_async",
    "apply",
    "apply_async",
)
#: Methods that hand a function over, by the kind of their object and their name.
METHOD_HANDOFFS: dict[tuple[str, str], Spec] = {
    ("apscheduler", "add_job"): Spec("apscheduler", 0, "func", "args"),
    ("flask_apscheduler", "add_job"): Spec("flask_apscheduler", 1, "func", "args"),
    ("mp_context", "Process"): Spec("process", 1, "target", None),
    **{("pool", name): Spec("pool", 0, "func", None) for name in _POOL_METHODS},
    ("process_pool", "submit"): Spec("pool", 0, "fn", None),
    ("process_pool", "map"): Spec("pool", 0, "fn", None),
    **{
        (kind, name): Spec("greenlet", 0, None, "after")
        for kind, names in (
            ("gevent_pool", ("spawn", "apply_async")),
            ("eventlet_pool", ("spawn", "spawn_n")),
        )
        for name in names
    },
}
#: Decorators that hand the decorated function over: methods of an object of a kind, and
#: module-level callables.
METHOD_DECORATORS: dict[tuple[str, str], str] = {
    ("apscheduler", "scheduled_job"): "apscheduler",
    ("flask_apscheduler", "task"): "flask_apscheduler",
}
FUNCTION_DECORATORS: dict[str, str] = {"atexit.register": "atexit", "schedule.repeat": "schedule"}
#: ``schedule.every(...).minutes.do(job, *args)``: the function is the first argument of ``do``.
SCHEDULE_DO = Spec("schedule", 0, "job_func", "after")

#: What a function reads that needs an app context (Flask's, by qualified name).
APP_CONTEXT_GLOBALS = frozenset(
    {
        "flask.current_app",
        "flask.g",
        "flask.url_for",
        "flask.render_template",
        "flask.render_template_string",
        "flask.stream_template",
        "flask.jsonify",
        "flask.abort",
        "flask.send_file",
    }
)
#: What a function reads that belongs to a request: an app context does not bring it back.
REQUEST_GLOBALS = {
    "flask.request": "request",
    "flask.session": "session",
    "flask.flash": "flash",
    "flask.get_flashed_messages": "get_flashed_messages",
    "flask_login.current_user": "current_user",
}
#: Decorators that give a function a context of its own, so it is not a bare handoff target.
CONTEXT_DECORATORS = frozenset(
    {
        "copy_current_request_context",
        "copy_current_app_context",
        "with_appcontext",
        "stream_with_context",
    }
)


@dataclass(frozen=True)
class Handoff:
    """One reference to the function: a handoff to a runner, a direct call, or another use."""

    path: str
    line: int
    #: 0-based, as ``ast`` counts: the start of the call, decorator or string.
    column: int
    #: The runner (``"apscheduler"``, ``"atexit"``, ``"greenlet"``...), ``"call"`` for a
    #: direct call, ``"other"`` for any other use.
    runner: str
    #: ``"argument"`` (handed to a call), ``"decorator"``, ``"string"`` (``"pkg.jobs:sync"``,
    #: APScheduler's textual reference), or ``""`` for a call or another use.
    form: str
    #: The top-level function the reference sits directly in, if any.
    function: str | None
    module_level: bool
    #: How an extra first argument reaches the function from here (see ``Spec.passing``).
    passing: str | None = None
    #: The source text of the object the function is handed to (``scheduler``), if any.
    receiver: str | None = None
    #: Where the function is among the call's positional arguments.
    position: int = 0
    #: Where the call, decorator or string ends (line, 0-based column after it).
    end: tuple[int, int] = (0, 0)

    @property
    def is_handoff(self) -> bool:
        return self.runner not in ("call", "other")

    def as_reference(self) -> Reference:
        """This handoff as CTX103 reads a thread start (to ask whether it runs in a context)."""
        return Reference(self.path, self.line, "thread", self.function, self.module_level)


_IMPORT = re.compile(r"^[ \t]*(?:from|import)[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


@per_project
def imported_packages(project: Project) -> frozenset[str]:
    """The top-level packages any project file imports (``gevent``, ``atexit``...)."""
    return frozenset(
        match.group(1)
        for path in project.python_files()
        for match in _IMPORT.finditer(project.source(path) or "")
    )


def may_hand_over(project: Project, packages: Iterable[str]) -> bool:
    """Whether the project imports any of the runner's ``packages``: a project that does not
    cannot hand a function to that runner, and ``detect`` need not look for handoffs (each
    look walks every file that names the function)."""
    return not imported_packages(project).isdisjoint(packages)


#: How many functions ``references`` answers for by walking only the files that name each,
#: before it walks every file once for all of them: a diagnosis asks about one or two (the
#: walk for all took CTFd's 49,000 lines 1.5 s), a scan about thousands (one walk each, of
#: every file naming it, took pgAdmin's 220,000 lines 40 s).
ONE_BY_ONE = 8


def references(project: Project, path: str, name: str) -> list[Handoff]:
    """Every reference, in any project file, to the top-level function ``name`` of ``path``:
    looked for once per project, since several recipes ask about the same function."""
    found = _references_by_function(project)
    if (path, name) not in found:
        module = project.module_name(path)
        qualified = f"{module}.{name}"
        if module is None:
            found[path, name] = []
        elif len(found) < ONE_BY_ONE:
            found[path, name] = _references_to(project, frozenset({qualified})).get(qualified, [])
        else:
            found[path, name] = _references_to_functions(project).get(qualified, [])
    return list(found[path, name])


@per_project
def _references_by_function(project: Project) -> dict[tuple[str, str], list[Handoff]]:
    return {}


@per_project
def _references_to_functions(project: Project) -> dict[str, list[Handoff]]:
    """The references to every top-level function of the project, by its qualified name: one
    walk of each file for them all (one walk per function asked about, of every file naming
    it, took pgAdmin's 220,000 lines 40 s)."""
    functions: set[str] = set()
    for path in project.python_files():
        module, tree = project.module_name(path), project.ast(path)
        if module is not None and tree is not None:
            functions.update(
                f"{module}.{node.name}"
                for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return _references_to(project, frozenset(functions))


def _references_to(project: Project, wanted: frozenset[str]) -> dict[str, list[Handoff]]:
    """The references to the qualified names ``wanted``, from the files that spell one of
    their names (every reference does, in its import or its attribute)."""
    names = {qualified.rpartition(".")[2] for qualified in wanted}
    found: dict[str, list[Handoff]] = {}
    for path in project.python_files():
        if not any(project.may_name(path, name) for name in names):
            continue
        tree = project.ast(path)
        if tree is None:
            continue
        walker = _Walker(project, path, wanted)
        walker.run(tree)
        for qualified, handoff in walker.found:
            found.setdefault(qualified, []).append(handoff)
    for handoffs in found.values():
        handoffs.sort(key=lambda h: (h.path, h.line, h.column))
    return found


def handed_frame(
    frames: Sequence[Frame], project: Project, runners: Iterable[tuple[str, str]]
) -> Frame | None:
    """The project frame the last runner frame called, or ``None``.

    ``runners`` are (file suffix, function) pairs such as ``("apscheduler/executors/base.py",
    "run_job")``; a function matches by its last dotted parts, since compiled gevent names its
    frames ``gevent._gevent_cgreenlet.Greenlet.run`` under the path ``src/gevent/greenlet.py``.
    A runner frame is never a project file; the frames between it and the project's must be
    library frames too.
    """
    wanted = tuple(runners)
    found: Frame | None = None
    for index, frame in enumerate(frames):
        if not _is_runner_frame(frame, project, wanted):
            continue
        for after in frames[index + 1 :]:
            if project.source(after.filename) is not None:
                found = after if after.in_app else None
                break
            if _is_runner_frame(after, project, wanted):
                break
    return found


def target_function(project: Project, frame: Frame) -> ast.FunctionDef | None:
    """The top-level function ``frame`` ran, if the project still has it around that line."""
    if frame.lineno is None:
        return None
    function = project.function(frame.filename, frame.function)
    if function is None:
        return None
    if not function.lineno <= frame.lineno <= (function.end_lineno or function.lineno):
        return None
    return function


def pushes_context(function: ast.FunctionDef) -> bool:
    """Whether ``function``'s body is (partly) a ``with <app>.app_context():`` block."""
    return any(
        isinstance(statement, ast.With)
        and any(is_context_call(item.context_expr) for item in statement.items)
        for statement in function.body
    )


def has_context_decorator(function: ast.FunctionDef) -> bool:
    """Whether a decorator such as ``copy_current_request_context`` gives it a context."""
    return any(_last_name(decorator) in CONTEXT_DECORATORS for decorator in function.decorator_list)


def has_context(function: ast.FunctionDef) -> bool:
    """Whether ``function`` gives itself a context, pushed in its body or by a decorator."""
    return pushes_context(function) or has_context_decorator(function)


def failing_line_has_context(project: Project, frame: Frame) -> bool:
    return frame.lineno is not None and inside_app_context(project, frame.filename, frame.lineno)


def request_reads(project: Project, path: str, function: ast.FunctionDef) -> list[str]:
    """The request globals ``function`` reads (``request``, ``session``...), sorted."""
    return sorted(
        {
            REQUEST_GLOBALS[q]
            for q in qualified_reads(project, path, function)
            if q in REQUEST_GLOBALS
        }
    )


@dataclass(frozen=True)
class FixTarget:
    """The diagnosed function as a fix finds it in the project now, and every reference to it."""

    path: str
    function: ast.FunctionDef
    #: The references that hand it to the recipe's runner.
    handoffs: list[Handoff]
    #: Every other reference: direct calls, other uses, handoffs to other runners.
    others: list[Handoff]

    @property
    def name(self) -> str:
        return self.function.name


def fix_target(
    project: Project, diagnosis: Diagnosis, is_handoff: Callable[[Handoff], bool]
) -> FixTarget:
    """The function ``diagnosis`` names, read again for its fix, with its references split by
    ``is_handoff`` (the recipe's runners).

    The project may have changed since the diagnosis: ``SkipFix`` when the function is gone or
    already has a context. What the other references allow is each recipe's own decision.
    """
    path = diagnosis.facts["target"]["path"]
    name = diagnosis.facts["target"]["function"]
    function = project.function(path, name)
    if function is None:
        raise SkipFix(f"{path} no longer defines {name}()")
    if has_context(function):
        raise SkipFix(f"{name}() ({path}:{function.lineno}) already has an app context")
    found = references(project, path, name)
    return FixTarget(
        path,
        function,
        handoffs=[h for h in found if is_handoff(h)],
        others=[h for h in found if not is_handoff(h)],
    )


def check_no_request_reads(project: Project, target: FixTarget, belong_to: str) -> None:
    """Raise ``SkipFix`` when the function reads ``request``, ``session`` or ``current_user``:
    the app context a fix gives it has no request, so ``belong_to`` says whose they are and what
    to do instead."""
    reads = request_reads(project, target.path, target.function)
    if reads:
        raise SkipFix(f"{target.name}() reads {', '.join(reads)}, which belong to {belong_to}")


def check_others_are_calls(target: FixTarget, runs_it: str) -> None:
    """Raise ``SkipFix`` when a reference besides the handoffs is not a direct call (a callback,
    a stored value): it may run the function ``runs_it`` (``"without the scheduler"``), where no
    fix reaches. Direct calls can stay as they are, with the runner handed a wrapper instead."""
    uses = [other for other in target.others if other.runner != "call"]
    if uses:
        raise SkipFix(
            f"{target.name}() is also used at {uses[0].path}:{uses[0].line}, which may run it "
            f"{runs_it}"
        )


def check_no_others(target: FixTarget, then: str) -> None:
    """Raise ``SkipFix`` when the function is referenced besides its handoffs at all (a call,
    a callback): a fix inside it would change that caller too, which ``then`` explains."""
    if target.others:
        other = target.others[0]
        how = "called" if other.runner == "call" else "used"
        raise SkipFix(f"{target.name}() is also {how} at {other.path}:{other.line}{then}")


def qualified_reads(project: Project, path: str, function: ast.FunctionDef) -> set[str]:
    """The qualified names of what ``function``'s body reads (``flask.current_app``...)."""
    return {qualified for qualified, _node in _reads(project, path, function)}


def first_context_use(project: Project, path: str, function: ast.FunctionDef) -> ast.expr | None:
    """The first expression in ``function`` that needs an app context, or ``None``.

    Flask's ``current_app``, ``g``, ``url_for``, ``render_template``...; a Flask-SQLAlchemy
    ``db``'s ``session``, ``engine``, ``create_all``...; a model's ``query``. Only what the
    function itself reads: what the functions it calls need is not followed.
    """
    walker = _Walker(project, path)
    uses: list[ast.expr] = []
    for qualified, node in _reads(project, path, function):
        if qualified in APP_CONTEXT_GLOBALS:
            uses.append(node)
        elif isinstance(node, ast.Attribute) and _needs_context_through_sqlalchemy(
            walker, node, qualified
        ):
            uses.append(node)
    return min(uses, key=lambda node: (node.lineno, node.col_offset), default=None)


def handed_context_users(
    project: Project, path: str, packages: Iterable[str], is_handoff: Callable[[Handoff], bool]
) -> Iterator[tuple[ast.FunctionDef, ast.expr, list[Handoff]]]:
    """What CTX113 to CTX116's ``detect`` report in ``path``: each top-level function that needs
    an app context it does not give itself, with its first use of one, and its handoffs to the
    recipe's runner (``is_handoff``), when it has any.

    A function that reads the request is left out: the app context a fix would give it has no
    request. A project that imports none of the runner's ``packages`` has none to report.
    """
    if not may_hand_over(project, packages):
        return
    module = project.module_name(path)
    found = _context_user_references(project)
    for function, use in _context_users(project).get(path, ()):
        handoffs = [h for h in found.get(f"{module}.{function.name}", []) if is_handoff(h)]
        if handoffs:
            yield function, use, handoffs


@per_project
def _context_users(project: Project) -> dict[str, list[tuple[ast.FunctionDef, ast.expr]]]:
    """Each file's top-level functions that need an app context they do not give themselves
    and do not read the request, with the first use: the functions whose handoffs CTX113 to
    CTX116 look for, found once for the four."""
    found: dict[str, list[tuple[ast.FunctionDef, ast.expr]]] = {}
    for path in project.python_files():
        tree = project.ast(path)
        if tree is None:
            continue
        for function in tree.body:
            if not isinstance(function, ast.FunctionDef) or has_context(function):
                continue
            if request_reads(project, path, function):
                continue
            use = first_context_use(project, path, function)
            if use is not None:
                found.setdefault(path, []).append((function, use))
    return found


@per_project
def _context_user_references(project: Project) -> dict[str, list[Handoff]]:
    """The references to ``_context_users`` alone: a few names, which most files do not
    spell, so most files go unwalked (Quay's 245,000 lines: 64 functions)."""
    wanted = frozenset(
        f"{module}.{function.name}"
        for path, users in _context_users(project).items()
        if (module := project.module_name(path)) is not None
        for function, _ in users
    )
    return _references_to(project, wanted) if wanted else {}


def check_unshadowed(function: ast.FunctionDef, name: str) -> None:
    """Raise ``SkipFix`` when ``function`` binds ``name`` (the app's) itself."""
    _check_unshadowed(function, name)


def _check_unshadowed(function: ast.FunctionDef, name: str) -> None:
    base = name.split(".")[0]
    own = set(all_arguments(function.args))
    own.update(
        node.id
        for node in walk_nodes(function)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    )
    if base in own:
        raise SkipFix(f"{function.name}() has a local {base!r} that hides the module's")


def app_at_site(project: Project, site: Handoff, *, current_app: bool = False) -> str | None:
    """The expression of the running app at ``site``: a name the code there binds to it, else
    (with ``current_app``) ``current_app._get_current_object()`` when the site runs in an app
    context (a view, a request hook, a ``with app.app_context():`` block...)."""
    name = app_name_at(project, site.path, site.line)
    if name is not None:
        return name
    if current_app and runs_in_app_context(project, site.as_reference()):
        return "current_app._get_current_object()"
    return None


def location_of(path: str, node: ast.expr) -> Location:
    return Location(path, node.lineno, node.col_offset + 1)


def runs_in_context(project: Project, site: Handoff) -> bool:
    return runs_in_app_context(project, site.as_reference())


def uses_persistent_jobstore(project: Project) -> bool:
    """Whether the project may keep jobs in a persistent store, where arguments are pickled
    (so the app cannot be one): any mention of a job store counts."""
    return any(
        "jobstore" in (project.source(path) or "").lower() for path in project.python_files()
    )


def resolve_function(
    project: Project, path: str, node: ast.expr, within: ast.AST | None = None
) -> tuple[str, ast.FunctionDef] | None:
    """The project's top-level function that ``node`` (in ``path``, inside the function
    ``within``) names, also through ``functools.partial(f, ...)``: (its file, its definition)."""
    tree = project.ast(path)
    if tree is None:
        return None
    walker = _Walker(project, path)
    scope = walker.scope_of(tree.body, module_level=True)
    if isinstance(within, ast.FunctionDef | ast.AsyncFunctionDef):
        scope = {**scope, **walker.scope_of(within.body, within.args)}
    if isinstance(node, ast.Call) and walker.qualify(node.func, scope) == "functools.partial":
        if not node.args:
            return None
        node = node.args[0]
    qualified = walker.qualify(node, scope)
    module, _, name = (qualified or "").rpartition(".")
    target = project.module_path(module) if module else None
    function = project.function(target, name) if target else None
    return (target, function) if target is not None and function is not None else None


def module_names_of_kind(project: Project, path: str, kind: str) -> list[str]:
    """The module-level names of ``path`` bound to an object of ``kind`` (``"flask_apscheduler"``
    for ``scheduler = APScheduler()`` here or ``from app.extensions import scheduler``)."""
    tree = project.ast(path)
    if tree is None:
        return []
    walker = _Walker(project, path)
    scope = walker.scope_of(tree.body, module_level=True)
    return sorted(
        name for name in scope if walker.kind_of(ast.Name(id=name, ctx=ast.Load()), scope) == kind
    )


def describe(sites: Sequence[Handoff]) -> str:
    return ", ".join(f"{site.path}:{site.line}" for site in sites)


def unfollowed(name: str, runner: str, found: Sequence[Handoff]) -> str:
    """Why no fix is offered when the code that hands ``name`` to ``runner`` is not found."""
    used = f" (it is used at {found[0].path}:{found[0].line})" if found else ""
    return (
        f"where {name}() is handed to {runner} cannot be followed in the code{used}, so other "
        "callers that a change to it would reach cannot be ruled out"
    )


def where(sites: Sequence[Handoff]) -> str:
    """``at a.py:3, b.py:9``; for none, that the code that hands the function over is beyond
    what reading the code follows (``self.scheduler``, a name bound at run time)."""
    return f"at {describe(sites)}" if sites else "by code tracefix cannot follow"


# --- reading code -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _textual_references(wanted: frozenset[str]) -> dict[str, str]:
    """``"pkg.jobs:tick"`` for each ``pkg.jobs.tick`` of ``wanted``: the same for every file
    of a project, so made once, not once per file (read only: ``get``)."""
    return {
        f"{module}:{name}": qualified
        for qualified in wanted
        for module, _, name in [qualified.rpartition(".")]
        if module
    }


class _Walker(ScopeWalker):
    """Reports references to the qualified names ``wanted``, each with the name it refers to:
    handoffs to the runners above (as an argument, a decorator or APScheduler's textual
    reference), direct calls, other uses. It keeps what an assignment binds, to tell what made
    an object (``scheduler = BackgroundScheduler()``)."""

    def __init__(self, project: Project, path: str, wanted: frozenset[str] = frozenset()) -> None:
        super().__init__(project, path, wanted)
        self.found: list[tuple[str, Handoff]] = []
        #: APScheduler's textual references, ``"pkg.jobs:tick"``.
        self.textual = _textual_references(wanted)

    def _bind(self, scope: Scope, node: ast.AST, module_level: bool) -> None:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                scope[target.id] = self._assigned(node.value, target.id, module_level)
            else:
                for name in _stored_names(target):
                    scope[name] = None
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            name = node.optional_vars.id
            scope[name] = self._assigned(node.context_expr, name, module_level)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            if not isinstance(scope.get(node.id), Assigned):
                scope[node.id] = None

    def _assigned(self, value: ast.expr, name: str, module_level: bool) -> Assigned:
        return Assigned(value, f"{self.module}.{name}" if module_level else None)

    def kind_of(self, node: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """What made the object ``node`` names: ``"apscheduler"`` for a ``BackgroundScheduler()``,
        ``"pool"`` for a ``multiprocessing.Pool()``..., or ``None``."""
        if depth > 6:
            return None
        if isinstance(node, ast.Call):
            kind = CONSTRUCTORS.get(self.qualify(node.func, scope) or "")
            if kind is None and isinstance(node.func, ast.Attribute):
                made_by = self.kind_of(node.func.value, scope, depth + 1)
                kind = MADE_BY_METHOD.get((made_by or "", node.func.attr))
            return kind
        if isinstance(node, ast.Name):
            bound = scope.get(node.id)
            if isinstance(bound, Assigned):
                return self.kind_of(bound.value, scope, depth + 1)
            return self._global_kind(bound, depth) if bound else None
        if isinstance(node, ast.Attribute):
            return self._global_kind(self.qualify(node, scope), depth)
        return None

    def _global_kind(self, qualified: str | None, depth: int) -> str | None:
        """The kind of the object a project module binds at its top level (``pkg.ext.sched``)."""
        if not qualified or depth > 6:
            return None
        module, _, name = qualified.rpartition(".")
        path = self.project.module_path(module) if module else None
        if path is None:
            return None
        scope = _module_scope(self.project, path)
        bound = scope.get(name)
        if isinstance(bound, Assigned):
            return _Walker(self.project, path).kind_of(bound.value, scope, depth + 1)
        if isinstance(bound, str) and bound != qualified:
            return self._global_kind(bound, depth + 1)
        return None

    def _visit_string(
        self, node: ast.Constant, text: str, function: str | None, depth: int
    ) -> None:
        textual = self.textual.get(text.strip()) if self.textual else None
        if textual is not None:
            self._report(textual, node, "apscheduler", "string", function, depth)

    def _visit_decorator(
        self,
        decorated: ast.FunctionDef | ast.AsyncFunctionDef,
        decorator: ast.expr,
        scope: Scope,
        function: str | None,
        depth: int,
    ) -> bool:
        qualified = f"{self.module}.{decorated.name}"
        if depth or qualified not in self.wanted:
            return False
        callee = decorator.func if isinstance(decorator, ast.Call) else decorator
        runner = FUNCTION_DECORATORS.get(self.qualify(callee, scope) or "")
        if runner == "schedule" and not isinstance(decorator, ast.Call):
            runner = None
        if runner is None and isinstance(decorator, ast.Call) and isinstance(callee, ast.Attribute):
            kind = self.kind_of(callee.value, scope)
            runner = METHOD_DECORATORS.get((kind or "", callee.attr))
        if runner is None:
            return False
        receiver = None
        if isinstance(callee, ast.Attribute) and runner != "atexit":
            receiver = ast.get_source_segment(self.project.source(self.path) or "", callee.value)
        self._report(qualified, decorator, runner, "decorator", function, depth, receiver=receiver)
        return True

    def _visit_handoff(
        self, call: ast.Call, callee: str | None, scope: Scope, function: str | None, depth: int
    ) -> ast.expr | None:
        spec = FUNCTION_HANDOFFS.get(callee or "")
        receiver: ast.expr | None = None
        if spec is None and isinstance(call.func, ast.Attribute):
            receiver = call.func.value
            kind = self.kind_of(receiver, scope)
            spec = METHOD_HANDOFFS.get((kind or "", call.func.attr))
            if spec is None and call.func.attr == "do" and self._is_schedule_chain(receiver, scope):
                spec = SCHEDULE_DO
        handed = _handed(call, spec) if spec is not None else None
        handed_name = self.qualify(handed, scope) if handed is not None else None
        if spec is None or handed_name is None or handed_name not in self.wanted:
            return None
        text = None
        if receiver is not None:
            text = ast.get_source_segment(self.project.source(self.path) or "", receiver)
        self._report(
            handed_name,
            call,
            spec.runner,
            "argument",
            function,
            depth,
            spec.passing,
            text,
            spec.position,
        )
        return handed

    def _is_schedule_chain(self, node: ast.expr, scope: Scope) -> bool:
        """Whether ``node`` is ``schedule.every(...)...`` (or ``<schedule.Scheduler>.every``)."""
        while isinstance(node, ast.Attribute | ast.Call):
            if isinstance(node, ast.Call):
                func = node.func
                if self.qualify(func, scope) == "schedule.every":
                    return True
                if isinstance(func, ast.Attribute) and func.attr == "every":
                    if self.kind_of(func.value, scope) == "schedule":
                        return True
                node = func
            else:
                node = node.value
        return False

    def _report_reference(
        self, qualified: str, node: ast.expr, role: str, function: str | None, depth: int
    ) -> None:
        self._report(qualified, node, role, "", function, depth)

    def _report(
        self,
        qualified: str,
        node: ast.expr,
        runner: str,
        form: str,
        function: str | None,
        depth: int,
        passing: str | None = None,
        receiver: str | None = None,
        position: int = 0,
    ) -> None:
        self.found.append(
            (
                qualified,
                Handoff(
                    self.path,
                    node.lineno,
                    node.col_offset,
                    runner,
                    form,
                    function if depth == 1 else None,
                    depth == 0,
                    passing,
                    receiver,
                    position,
                    (node.end_lineno or node.lineno, node.end_col_offset or 0),
                ),
            )
        )


def _reads(project: Project, path: str, function: ast.FunctionDef) -> list[tuple[str, ast.expr]]:
    """(qualified name, node) for each name or attribute ``function``'s body reads: read once
    per project, since the four handoff detectors (CTX113-116) each ask."""
    found = _reads_by_function(project)
    if (path, function) not in found:
        found[path, function] = list(_read(project, path, function))
    return found[path, function]


@per_project
def _reads_by_function(
    project: Project,
) -> dict[tuple[str, ast.FunctionDef], list[tuple[str, ast.expr]]]:
    return {}


def _read(project: Project, path: str, function: ast.FunctionDef) -> Iterator[tuple[str, ast.expr]]:
    tree = project.ast(path)
    if tree is None:
        return
    walker = _Walker(project, path)
    scope = {**_module_scope(project, path), **walker.scope_of(function.body, function.args)}
    for node in walk_nodes(function):
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            qualified = walker.qualify(node, scope)
            if qualified:
                yield qualified, node


def _module_scope(project: Project, path: str) -> Scope:
    """What the module-level names of ``path`` refer to (a walk of its whole top level): once
    per file, for every function of it that ``_read`` reads and every walk that asks what
    made one of its globals."""
    scopes = _module_scopes(project)
    if path not in scopes:
        tree = project.ast(path)
        scopes[path] = _Walker(project, path).scope_of(tree.body, module_level=True) if tree else {}
    return scopes[path]


@per_project
def _module_scopes(project: Project) -> dict[str, Scope]:
    return {}


def _needs_context_through_sqlalchemy(walker: _Walker, node: ast.Attribute, qualified: str) -> bool:
    """``db.session`` (and the rest) on a Flask-SQLAlchemy ``db``, or ``Model.query``."""
    owner, _, attribute = qualified.rpartition(".")
    if attribute in CONTEXT_ATTRIBUTES:
        return _is_sqlalchemy_instance(walker, owner)
    if attribute == "query":
        return _is_model_class(walker, owner)
    return False


def _is_sqlalchemy_instance(walker: _Walker, qualified: str, depth: int = 0) -> bool:
    bound = _global_binding(walker.project, qualified)
    if bound is None or depth > 4:
        return False
    path, value, scope, inner = bound
    if isinstance(value, Assigned) and isinstance(value.value, ast.Call):
        made = inner.qualify(value.value.func, scope)
        return (
            made is not None
            and analysis(walker.project).is_sqlalchemy_class_named(made)
            and not runs_without_context(walker.project, value.value)
        )
    if isinstance(value, str) and value != qualified:
        return _is_sqlalchemy_instance(walker, value, depth + 1)
    return False


def _is_model_class(walker: _Walker, qualified: str) -> bool:
    """Whether ``qualified`` is a project class deriving from a Flask-SQLAlchemy ``db.Model``."""
    module, _, name = qualified.rpartition(".")
    path = walker.project.module_path(module) if module else None
    tree = walker.project.ast(path) if path else None
    if path is None or tree is None:
        return False
    inner = _Walker(walker.project, path)
    scope = inner.scope_of(tree.body, module_level=True)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            for base in node.bases:
                based = inner.qualify(base, scope)
                if based and based.endswith(".Model"):
                    if _is_sqlalchemy_instance(inner, based.rpartition(".")[0]):
                        return True
                if based and based != qualified and _is_model_class(inner, based):
                    return True
    return False


def _global_binding(
    project: Project, qualified: str
) -> tuple[str, str | Assigned | None, Scope, _Walker] | None:
    module, _, name = qualified.rpartition(".")
    path = project.module_path(module) if module else None
    tree = project.ast(path) if path else None
    if path is None or tree is None:
        return None
    walker = _Walker(project, path)
    scope = walker.scope_of(tree.body, module_level=True)
    return path, scope.get(name), scope, walker


def _is_runner_frame(frame: Frame, project: Project, runners: tuple[tuple[str, str], ...]) -> bool:
    if project.source(frame.filename) is not None:
        return False
    path = (frame.abs_path or frame.filename).replace("\\", "/")
    paths = {path, frame.filename.replace("\\", "/")}
    return any(
        (frame.function == function or frame.function.endswith("." + function))
        and any(p == suffix or p.endswith("/" + suffix) for p in paths)
        for suffix, function in runners
    )


def _handed(call: ast.Call, spec: Spec) -> ast.expr | None:
    if spec.keyword is not None:
        for item in call.keywords:
            if item.arg == spec.keyword:
                return item.value
    positional = []
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            break
        positional.append(arg)
    return positional[spec.position] if len(positional) > spec.position else None


def _stored_names(target: ast.expr) -> Iterator[str]:
    """The names an assignment to ``target`` binds (not ``g`` in ``g.user = ...``)."""
    for node in walk_nodes(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None
