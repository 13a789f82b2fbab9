"""CTX105 celery-task-without-app-context: a Celery task uses Flask, but Celery runs it without
an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes._base import plan_or_reason
from tracefix.recipes._scopes import local_names
from tracefix.recipes.celery_task.celery_apps import CeleryApp
from tracefix.recipes.celery_task.celery_apps import CelerySetup
from tracefix.recipes.celery_task.celery_apps import TaskFunction
from tracefix.recipes.celery_task.context_use import ContextUses

#: Where Celery calls a task: ``trace_task`` runs ``fun(*args, **kwargs)`` (celery/app/trace.py).
TRACE_MODULE = "celery/app/trace.py"
TASK_CLASS_NAMES = ("FlaskTask", "AppContextTask")


@dataclass(frozen=True)
class Plan:
    """Where the fix pushes the context.

    ``task_class``: the Flask task class, in the place that makes ``celery`` with ``app`` at hand.
    ``task_body``: a ``with app.app_context():`` in the task, ``imports`` bringing the app in.
    """

    kind: Literal["task_class", "task_body"]
    app: str
    celery: CeleryApp | None = None
    imports: tuple[str, ...] = ()


class CeleryTaskWithoutAppContext(Recipe):
    """Flask context used in a Celery task, which the worker runs without one.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` raised in a Celery task: the
    frame Celery's `celery/app/trace.py` (`trace_task`) calls is a project function declared with
    `@shared_task` or `@<celery app>.task`, on a worker or in eager mode (`task_always_eager`,
    `.apply()`). The task named by the event's Celery context (the SDK's `task_failure` event)
    is the same function.

    ## Why is this bad?
    A Celery worker is a separate program: it imports the project's tasks, but it never handles
    a request or runs a `flask` command, so nothing pushes a Flask application context. A task
    that reads `current_app`, renders a template or uses Flask-SQLAlchemy's `db.session` fails
    on every run, and `.delay()` in the web process still returns at once, so the failure only
    shows in the worker's log.

    ## Example
        # app/__init__.py
        def celery_init_app(app):
            celery_app = Celery(app.name)
            celery_app.config_from_object(app.config["CELERY"])
            celery_app.set_default()
            app.extensions["celery"] = celery_app
            return celery_app

        # app/tasks.py
        @shared_task
        def count_users():
            return db.session.scalar(select(func.count(User.id)))

    ## Use instead
        # app/__init__.py
        def celery_init_app(app):
            class FlaskTask(Task):
                def __call__(self, *args, **kwargs):
                    with app.app_context():
                        return self.run(*args, **kwargs)

            celery_app = Celery(app.name, task_cls=FlaskTask)
            ...

    This is Flask's own pattern: wherever the project makes its Celery app with the Flask app at
    hand (a `celery_init_app(app)` or `make_celery(app)` function, or a module that has both),
    the task class goes there and covers every task. When the Celery app is made where no Flask
    app is (`celery = Celery("proj")` in a module of its own), the failing task pushes the
    context itself, with the app the task's module already has or the project's module-level
    app, imported the way the project imports it:

        @celery.task
        def count_users():
            with app.app_context():
                return db.session.scalar(select(func.count(User.id)))

    ## Fix safety
    Safe. Tasks run in an app context of their own, pushed with `with` around each run and popped
    when it returns, so nothing leaks from one task to the next (a module-level `push()` in the
    worker would share one context, and one Flask-SQLAlchemy session, between all tasks). The
    context is that of the app the project already configures Celery from, never a second app:
    no fix is offered when a factory-made app is out of reach where the Celery app is made,
    since calling the factory in each task would build an app per task, nor when the factory
    only configures a module-level Celery app later (`celery.conf.update(app.config)`), since a
    task class set there (`celery.Task = ...`) misses the tasks Celery created before it ran,
    as when pytest imports them first. A task declared with
    `base=` (which replaces the app's task class), a Celery app that already has a task class,
    and a task that reads `request`, `session` or `current_user` (which no app context gives)
    are left alone.

    ## References
    - Flask docs, "Background Tasks with Celery": Integrate Celery with Flask (`FlaskTask`)
    - Celery docs, "Tasks": Custom task classes (`task_cls`, app-wide usage)
    - docs/context-errors.md §1.7 `celery_task_no_context`
    """

    code = "CTX105"
    name = "celery-task-without-app-context"
    summary = "A Celery task uses Flask, but the worker runs it without an app context"
    fix_title = "Give the Celery app Flask's context-pushing task class (or push it in the task)"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if not is_app_context_error(event.exception):
            return None
        setup = CelerySetup(project)
        task = failing_task(event, project, setup)
        if task is None:
            return None
        trigger = _trigger_line(event, project, task)
        if trigger is None or inside_app_context(project, task.path, trigger):
            return None
        if pushes_context(task.function):
            return None
        plan, unfixable = plan_or_reason(plan_fix, project, setup, task)
        celery = event.celery
        return self.diagnosis(
            _explanation(task, trigger, plan, unfixable, celery.task_id if celery else None),
            Location(task.path, trigger),
            task={"path": task.path, "function": task.function.name, "line": trigger},
            **unfixable,
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        source = project.source(path) or ""
        if ".task" not in source and "shared_task" not in source:
            return
        setup = CelerySetup(project)
        tasks = list(setup.tasks(path))
        if not tasks or setup.pushes_elsewhere() is not None:
            return
        uses = ContextUses(project, setup.names)
        for task in tasks:
            if pushes_context(task.function) or task_class_of_its_own(setup, task) is not None:
                continue
            use = uses.first(path, task.function)
            if use is None or inside_app_context(project, path, use.line):
                continue
            plan, unfixable = plan_or_reason(plan_fix, project, setup, task)
            yield self.diagnosis(
                _explanation(task, use.line, plan, unfixable, None, used=use.describe()),
                Location(path, use.line, use.column),
                task={"path": path, "function": task.function.name, "line": use.line},
                **unfixable,
            )

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        facts = diagnosis.facts["task"]
        setup = CelerySetup(project)
        task = setup.task(facts["path"], facts["function"])
        if task is None:
            raise SkipFix(f"{facts['path']} no longer declares the task {facts['function']}()")
        if pushes_context(task.function):
            raise SkipFix(f"{task.function.name}() already pushes an app context")
        plan = plan_fix(project, setup, task)
        if plan.kind == "task_class":
            assert plan.celery is not None
            return (_add_task_class(project, plan.celery, plan.app),)
        return (_wrap_task(project, task, plan),)


def failing_task(event: Event, project: Project, setup: CelerySetup) -> TaskFunction | None:
    """The project's task that Celery's tracer called, from the frames; ``None`` if none is.

    Between the tracer and the task there may be library wrappers (an error tracker's) and a
    task class's ``__call__``; any other project frame first means the tracer ran something
    else (a signal handler), not the task.
    """
    frames = event.frames
    traced = [i for i, frame in enumerate(frames) if _is_trace_frame(frame)]
    if not traced:
        return None
    for frame in frames[traced[-1] + 1 :]:
        if not frame.in_app:
            continue  # Celery's own Task.__call__, an error tracker's wrapper
        if project.source(frame.filename) is None:
            return None
        task = setup.task(frame.filename, frame.function)
        if task is not None:
            return task if _names_agree(event, project, task) else None
        if frame.function != "__call__":
            return None
    return None


def pushes_context(function: ast.FunctionDef) -> bool:
    """Whether a statement of ``function``'s body is a ``with`` that makes a context."""
    return any(
        isinstance(statement, ast.With)
        and any(is_context_call(item.context_expr) for item in statement.items)
        for statement in function.body
    )


def plan_fix(project: Project, setup: CelerySetup, task: TaskFunction) -> Plan:
    """Where the context goes for ``task``; ``SkipFix`` says why nowhere is safe."""
    name = task.function.name
    request_reads = ContextUses(project, setup.names).reads_request(task.path, task.function)
    if request_reads:
        raise SkipFix(
            f"{name}() reads {', '.join(request_reads)}, which belong to a request, not to the "
            "app context a task can have; pass the values as arguments instead"
        )
    unseen = task_class_of_its_own(setup, task)
    if unseen is not None:
        raise SkipFix(unseen)
    celery = setup.app_of(task)
    if celery is not None:
        app = setup.app_name_at(celery)
        if app is not None:
            return Plan("task_class", app, celery)
    return _task_body_plan(project, setup, task, celery)


def task_class_of_its_own(setup: CelerySetup, task: TaskFunction) -> str | None:
    """Why ``task`` may run in a task class the project wrote, which may push the context
    itself (the scan cannot tell, so it says nothing); ``None`` when it runs in Celery's."""
    if task.base is not None:
        return (
            f"{task.function.name}() is declared with base={ast.unparse(task.base)}, which "
            "replaces the Celery app's task class; that class must push the app context itself"
        )
    celery = setup.app_of(task)
    if celery is not None:
        task_class = setup.task_class(celery)
        if task_class is not None:
            return (
                f"the Celery app made at {celery.describe()} already has a task class "
                f"({ast.unparse(task_class)}); it must push the app context itself"
            )
        assigned = setup.task_class_assignments()
        if assigned:
            path, line = assigned[0]
            return f"{path}:{line} sets a Celery app's task class; it must push the context"
    return None


def _task_body_plan(
    project: Project, setup: CelerySetup, task: TaskFunction, celery: CeleryApp | None
) -> Plan:
    in_scope = app_name_in_scope(project, task.path)
    if in_scope is not None:
        if in_scope in local_names(task.function):
            raise SkipFix(f"{task.function.name}() has a local {in_scope!r} that hides the app")
        return Plan("task_body", in_scope, celery)
    source = find_app_source(project, near=task.path)
    where = f"at {celery.describe()}" if celery is not None else "where the task cannot see it"
    configuration = setup.configuration_of(celery) if celery is not None else None
    if configuration is not None and (source is None or source.kind == "factory"):
        raise SkipFix(
            f"the Celery app is made {where} and configured from the Flask app in "
            f"{configuration.function.name}() ({configuration.path}:"
            f"{configuration.statement.lineno}); a task class set there (celery.Task = ...) "
            "would miss the tasks Celery creates before it runs (when the tasks are imported "
            "first, as pytest's collection does). Make the Celery app in a function that "
            "receives the Flask app (Flask's celery_init_app pattern)"
        )
    if source is None:
        raise SkipFix(
            f"the Celery app is made {where}, with no Flask app at hand, and no single Flask app "
            f"can be imported into {task.path} without guessing"
        )
    if source.kind == "factory":
        raise SkipFix(
            f"the Celery app is made {where}, with no Flask app at hand, and the project makes "
            f"its app with {source.name}(): calling it in the task would build an app for every "
            "task. Make the Celery app in a function that receives the Flask app (Flask's "
            "celery_init_app pattern)"
        )
    from tracefix.recipes._codemod import names_used  # LibCST: only where a task is found

    module = project.cst(task.path)
    if source.name not in names_used(module) and source.name not in local_names(task.function):
        return Plan("task_body", source.name, celery, (source.import_statement,))
    alias = "flask_app"
    if alias in names_used(module) or alias in local_names(task.function):
        raise SkipFix(f"{task.path} already uses the names {source.name!r} and {alias!r}")
    return Plan("task_body", alias, celery, (f"{source.import_statement} as {alias}",))


def _add_task_class(project: Project, celery: CeleryApp, app: str) -> FileChange:
    from tracefix.recipes._codemod import add_imports
    from tracefix.recipes._codemod import names_used
    from tracefix.recipes._codemod import statement_chain
    from tracefix.recipes._imports import add_project_imports
    from tracefix.recipes.celery_task import fix

    path = celery.path
    module = project.cst(path)
    source = project.source(path) or ""
    used = names_used(module) | _all_names(project, path)
    name = next((n for n in TASK_CLASS_NAMES if n not in used), None)
    if name is None:
        raise SkipFix(f"{path} already uses the names {' and '.join(TASK_CLASS_NAMES)}")
    top = statement_chain(module, celery.line)[0].index
    base = "Task"
    try:
        module = add_project_imports(project, module, ["from celery import Task"], before=top)
    except SkipFix:
        base = "CeleryTask"
        if base in used:
            raise SkipFix(f"{path} already uses the names Task and CeleryTask") from None
        module = add_imports(module, ["from celery import Task as CeleryTask"], before=top)
    shift = len(module.code.splitlines()) - len(source.splitlines())
    module = fix.add_task_class(
        module,
        celery.line + shift,
        celery.column,
        callee=ast.unparse(celery.call.func),
        app=app,
        name=name,
        base=base,
        annotated=_annotated(celery, project),
    )
    return FileChange(path, source, module.code)


def _wrap_task(project: Project, task: TaskFunction, plan: Plan) -> FileChange:
    from tracefix.recipes._codemod import statement_chain
    from tracefix.recipes._imports import add_project_imports
    from tracefix.recipes.celery_task import fix

    path = task.path
    module = project.cst(path)
    top = statement_chain(module, task.function.lineno)[0].index
    module = add_project_imports(project, module, plan.imports, before=top)
    module = fix.wrap_function_body(module, task.function.name, f"{plan.app}.app_context()")
    return FileChange(path, project.source(path), module.code)


def _annotated(celery: CeleryApp, project: Project) -> bool:
    """Whether the code around the Celery app is annotated, so the new ``__call__`` is too."""
    if celery.function is not None:
        functions = [celery.function]
    else:
        tree = project.ast(celery.path)
        functions = [s for s in tree.body if isinstance(s, ast.FunctionDef)] if tree else []
    return any(_annotated_function(function) for function in functions)


def _annotated_function(function: ast.FunctionDef) -> bool:
    return function.returns is not None or any(
        arg.annotation is not None for arg in function.args.args
    )


def _is_trace_frame(frame: Frame) -> bool:
    path = (frame.abs_path or frame.filename).replace("\\", "/")
    return not frame.in_app and path.endswith("/" + TRACE_MODULE)


def _names_agree(event: Event, project: Project, task: TaskFunction) -> bool:
    """When the event names its task (the SDK's Celery context) by its default name, it is
    ``task``: a frame of another function would mean the frames are not what they seem."""
    name = event.celery.task if event.celery else None
    module = project.module_name(task.path)
    if not name or module is None or "." not in name:
        return True
    named_module, _, function = name.rpartition(".")
    if project.module_path(named_module) is None:
        return True
    return (named_module, function) == (module, task.function.name)


def _trigger_line(event: Event, project: Project, task: TaskFunction) -> int | None:
    """The line of the task's own frame (where it called into Flask, or into project code)."""
    from tracefix.recipes._codemod import relocate_line  # LibCST: not on scan's path

    frame = next(
        (
            f
            for f in reversed(event.frames)
            if f.in_app and f.filename == task.path and f.function == task.function.name
        ),
        None,
    )
    if frame is None or frame.lineno is None:
        return None
    line = relocate_line(project.source(task.path) or "", frame.lineno, frame.context_line)
    function = task.function
    if line is None or not function.lineno <= line <= (function.end_lineno or function.lineno):
        return None
    return line


def _all_names(project: Project, path: str) -> set[str]:
    tree = project.ast(path)
    if tree is None:
        return set()
    return {node.id for node in walk(tree) if isinstance(node, ast.Name)} | {
        node.name for node in walk(tree) if isinstance(node, ast.ClassDef)
    }


def _explanation(
    task: TaskFunction,
    line: int,
    plan: Plan | None,
    unfixable: dict[str, str],
    task_id: str | None,
    *,
    used: str | None = None,
) -> str:
    name = task.function.name
    run = f" (task id {task_id})" if task_id else ""
    needs = f"uses {used}" if used else "needs an application context"
    text = (
        f"{name}() ({task.path}:{task.function.lineno}) is a Celery task{run}, and {needs} at "
        f"{task.path}:{line}. A Celery worker imports the project's tasks but never handles a "
        "request or runs a `flask` command, so nothing pushes a Flask app context for it."
    )
    if plan is None:
        return f"{text} No fix is offered: {unfixable['reason']}."
    if plan.kind == "task_class":
        assert plan.celery is not None
        return (
            f"{text} The Celery app is made at {plan.celery.describe()}, where the Flask app "
            f"({plan.app}) is at hand: a task class there that pushes its context covers every "
            "task, as Flask's Celery pattern does."
        )
    where = f"at {plan.celery.describe()}" if plan.celery is not None else ""
    imported = f", imported with `{plan.imports[0]}`" if plan.imports else ""
    return (
        f"{text} The Celery app is made {where or 'where the task cannot tell'}, with no Flask "
        f"app at hand, so the task pushes the context of the project's app (`{plan.app}`"
        f"{imported}) itself."
    )
