"""How a project sets Celery up, read from its code: its tasks, its ``Celery(...)`` apps, and
whether the place that makes one has the Flask app at hand.

That last question decides CTX105's fix. Flask's documented pattern makes the Celery app in a
function that receives the Flask app (``celery_init_app(app)``, or the older
``make_celery(app)``), or next to a module-level Flask app: there a task class that pushes the
app's context covers every task. A ``Celery(...)`` made at module level with no Flask app in
reach has no such place, and each task must push the context itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.apps import pushes_app_context
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.recipes._scopes import own_nodes
from tracefix.recipes.celery_task.names import Binding
from tracefix.recipes.celery_task.names import External
from tracefix.recipes.celery_task.names import Names
from tracefix.recipes.celery_task.names import ProjectModule
from tracefix.recipes.celery_task.names import assigned_value
from tracefix.recipes.celery_task.names import decorator_call
from tracefix.recipes.celery_task.names import keyword
from tracefix.recipes.celery_task.names import module_statements

CELERY_CLASSES = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
SHARED_TASK = frozenset({"celery.shared_task", "celery.app.shared_task"})
FLASK_CLASSES = frozenset({"flask.Flask", "flask.app.Flask"})
#: Attributes only a Flask app has, read off a parameter to tell it is the app.
FLASK_APP_ATTRIBUTES = frozenset(
    {"config", "import_name", "extensions", "app_context", "name", "root_path", "instance_path"}
)
#: Signals whose handlers run outside the task's ``__call__``, where a project may push a context.
CONTEXT_SIGNALS = frozenset({"task_prerun", "worker_process_init", "worker_init"})


@dataclass(frozen=True)
class TaskFunction:
    """A function the project declares as a Celery task."""

    path: str
    function: ast.FunctionDef
    #: ``"shared"`` for ``@shared_task``, ``"app"`` for ``@<celery>.task``.
    kind: Literal["shared", "app"]
    #: ``<celery>`` in ``@<celery>.task``.
    app_expression: ast.expr | None
    #: The ``base=`` class the task asks for, which replaces the app's task class.
    base: ast.expr | None
    #: The ``name=`` the task is registered under, when it sets one.
    declared_name: str | None = None


@dataclass(frozen=True)
class CeleryApp:
    """One ``Celery(...)`` call of the project."""

    path: str
    call: ast.Call
    #: The top-level function the call is in, or ``None`` at module level.
    function: ast.FunctionDef | None

    @property
    def line(self) -> int:
        return self.call.lineno

    @property
    def column(self) -> int:
        return self.call.col_offset

    def describe(self) -> str:
        where = f"{self.function.name}()" if self.function else "module level"
        return f"{self.path}:{self.line} ({where})"


@dataclass(frozen=True)
class Configuration:
    """A statement that configures a module-level Celery app from the Flask app at hand."""

    path: str
    function: ast.FunctionDef
    statement: ast.stmt
    #: How the function names the Celery app, and the Flask app.
    celery: str
    app: str


class CelerySetup:
    """The Celery set-up of one project."""

    def __init__(self, project: Project, names: Names | None = None) -> None:
        self.project = project
        self.names = names or Names(project)
        self._apps: list[CeleryApp] | None = None

    def task(self, path: str, name: str) -> TaskFunction | None:
        """The top-level function ``name`` of ``path`` if it is declared as a Celery task."""
        function = self.project.function(path, name)
        if function is None:
            return None
        for decorator in function.decorator_list:
            callee, call = decorator_call(decorator)
            target = self.names.resolve(path, callee)
            declared_name = _string_keyword(call, "name")
            if isinstance(target, External) and target.dotted in SHARED_TASK:
                return TaskFunction(
                    path, function, "shared", None, keyword(call, "base"), declared_name
                )
            if isinstance(callee, ast.Attribute) and callee.attr == "task":
                if self.celery_of(path, callee.value) is not None:
                    return TaskFunction(
                        path, function, "app", callee.value, keyword(call, "base"), declared_name
                    )
        return None

    def task_named(self, name: str) -> TaskFunction | None:
        """The task Celery registers as ``name``: the one declared with that ``name=``, else
        the function of Celery's default name, ``<module>.<function>``."""
        module, _, function = name.rpartition(".")
        path = self.project.module_path(module) if module else None
        task = self.task(path, function) if path is not None else None
        if task is not None and task.declared_name in (None, name):
            return task
        for path in self.project.python_files():
            if name in (self.project.source(path) or ""):
                named = [task for task in self.tasks(path) if task.declared_name == name]
                if named:
                    return named[0]
        return None

    def tasks(self, path: str) -> Iterator[TaskFunction]:
        tree = self.project.ast(path)
        if tree is None:
            return
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef) and statement.decorator_list:
                task = self.task(path, statement.name)
                if task is not None and task.function is statement:
                    yield task

    def apps(self) -> list[CeleryApp]:
        """Every ``Celery(...)`` call in the project (not in tests)."""
        if self._apps is None:
            self._apps = []
            for path in self.project.python_files():
                if "Celery" not in (self.project.source(path) or ""):
                    continue
                tree = self.project.ast(path)
                if tree is None:
                    continue
                for function, call in _calls(tree):
                    if self._is_celery_class(path, call.func, function):
                        self._apps.append(CeleryApp(path, call, function))
        return self._apps

    def app_of(self, task: TaskFunction) -> CeleryApp | None:
        """The ``Celery(...)`` call whose app runs ``task``; ``None`` when unclear."""
        if task.kind == "shared":
            apps = self.apps()
            return apps[0] if len(apps) == 1 else None
        assert task.app_expression is not None
        return self.celery_of(task.path, task.app_expression)

    def celery_of(self, path: str, node: ast.expr) -> CeleryApp | None:
        """The ``Celery(...)`` call the expression ``node`` of ``path`` holds the app of."""
        target = self.names.resolve(path, node)
        if isinstance(node, ast.Subscript) or not isinstance(target, Binding):
            return self._from_extensions(node)
        value = assigned_value(target.statement, target.name)
        if not isinstance(value, ast.Call | ast.Subscript):
            return None
        if isinstance(value, ast.Subscript):
            return self._from_extensions(value)
        if self._is_celery_class(target.path, value.func, None):
            return self._app_at(target.path, value)
        made_by = self.names.resolve(target.path, value.func)
        if isinstance(made_by, Binding) and isinstance(made_by.statement, ast.FunctionDef):
            inside = [app for app in self.apps() if app.function is made_by.statement]
            return inside[0] if len(inside) == 1 else None
        return None

    def app_name_at(self, app: CeleryApp) -> str | None:
        """The name the Flask app has where ``app`` is made: the hook's parameter, a local
        ``Flask(...)``, or a module-level app bound before the call; ``None`` if out of reach."""
        if app.function is None:
            return app_name_in_scope(self.project, app.path, before_line=app.line)
        return self.app_name_in(app.path, app.function, before_line=app.line)

    def app_name_in(self, path: str, function: ast.FunctionDef, *, before_line: int) -> str | None:
        """The Flask app ``function`` has at hand before ``before_line``: a parameter that is
        the app, or a local it makes with ``Flask(...)``."""
        local = self.names.local_scope(path, function)
        for arg in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]:
            if self._is_app_parameter(path, function, arg, local) and not _rebound(
                function, arg.arg
            ):
                return arg.arg
        for node in own_nodes(function.body):
            if isinstance(node, ast.Assign) and node.lineno < before_line:
                value = assigned_value(node, _single_target(node) or "")
                if isinstance(value, ast.Call) and self._is_flask_class(path, value.func):
                    return _single_target(node)
        return None

    def configuration_of(self, app: CeleryApp) -> Configuration | None:
        """The one place that configures the module-level Celery ``app`` from a Flask app:
        a statement such as ``celery.conf.update(app.config)`` directly in the body of a
        function that has the Flask app at hand (the factory, an ``init_celery(app)``).
        ``None`` when there is none, or more than one."""
        if app.function is not None:
            return None
        bound = self.module_binding(app)
        if bound is None:
            return None
        found: list[Configuration] = []
        for path in self.project.python_files():
            if bound.name not in (self.project.source(path) or ""):
                continue
            tree = self.project.ast(path)
            for function in tree.body if tree is not None else ():
                if not isinstance(function, ast.FunctionDef):
                    continue
                local = self.names.local_scope(path, function)
                for statement in function.body:
                    name = _configured_name(statement)
                    if name is None:
                        continue
                    target = self.names.resolve(path, ast.Name(name, ast.Load()), local)
                    if target != bound:
                        continue
                    flask_app = self.app_name_in(path, function, before_line=statement.lineno)
                    if flask_app is not None:
                        found.append(Configuration(path, function, statement, name, flask_app))
        return found[0] if len(found) == 1 else None

    def module_binding(self, app: CeleryApp) -> Binding | None:
        """The module-level ``name = Celery(...)`` statement that keeps ``app``."""
        tree = self.project.ast(app.path)
        for statement in module_statements(tree) if tree is not None else ():
            if isinstance(statement, ast.Assign) and statement.value is app.call:
                name = _single_target(statement)
                return Binding(app.path, name, statement) if name else None
        return None

    def task_class(self, app: CeleryApp) -> ast.expr | None:
        """The ``task_cls=`` the ``Celery(...)`` call passes, if it does."""
        return keyword(app.call, "task_cls")

    def task_class_assignments(self) -> list[tuple[str, int]]:
        """Where the project assigns ``<celery>.Task = ...``: an app-wide task class."""
        found = []
        for path in self.project.python_files():
            if ".Task" not in (self.project.source(path) or ""):
                continue
            tree = self.project.ast(path)
            for node in walk(tree) if tree is not None else ():
                if isinstance(node, ast.Assign) and any(
                    isinstance(target, ast.Attribute) and target.attr == "Task"
                    for target in node.targets
                ):
                    found.append((path, node.lineno))
        return found

    def pushes_elsewhere(self) -> str | None:
        """Where the project may give tasks a context outside their own code: a task class
        whose ``__call__`` pushes one, a worker module that pushes one at import, a signal
        handler. ``detect`` stays silent when there is one."""
        for path in self.project.python_files():
            source = self.project.source(path) or ""
            if not any(sign in source for sign in ("push(", "__call__", *CONTEXT_SIGNALS)):
                continue
            tree = self.project.ast(path)
            if tree is None:
                continue
            if pushes_app_context(tree.body) or any(
                _pushes_at_module_level(statement) for statement in module_statements(tree)
            ):
                return f"{path} pushes an app context at import"
            for node in walk(tree):
                if isinstance(node, ast.ClassDef) and _call_pushes(node):
                    return f"{path}:{node.lineno} {node.name}.__call__ pushes an app context"
                if isinstance(node, ast.Name | ast.Attribute):
                    name = node.id if isinstance(node, ast.Name) else node.attr
                    if name in CONTEXT_SIGNALS:
                        return f"{path}:{node.lineno} connects the Celery signal {name}"
        return None

    def _app_at(self, path: str, call: ast.Call) -> CeleryApp | None:
        return next((a for a in self.apps() if a.path == path and a.call is call), None)

    def _from_extensions(self, node: ast.expr) -> CeleryApp | None:
        """``<app>.extensions["celery"]``, where ``celery_init_app`` keeps it: the project's one
        Celery app made in a function."""
        if not (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "extensions"
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == "celery"
        ):
            return None
        in_functions = [app for app in self.apps() if app.function is not None]
        return in_functions[0] if len(in_functions) == 1 else None

    def _is_celery_class(self, path: str, node: ast.expr, function: ast.FunctionDef | None) -> bool:
        local = self.names.local_scope(path, function) if function else None
        target = self.names.resolve(path, node, local)
        return isinstance(target, External) and target.dotted in CELERY_CLASSES

    def _is_flask_class(self, path: str, node: ast.expr) -> bool:
        target = self.names.resolve(path, node)
        return isinstance(target, External) and target.dotted in FLASK_CLASSES

    def _is_app_parameter(
        self,
        path: str,
        function: ast.FunctionDef,
        arg: ast.arg,
        local: dict[str, Binding | ProjectModule | External | None],
    ) -> bool:
        """Whether ``arg`` is the Flask app: annotated ``Flask``, or the function reads an
        attribute only a Flask app has off it (``app.config``, ``app.import_name``...)."""
        if arg.annotation is not None:
            annotation = arg.annotation
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                try:
                    annotation = ast.parse(annotation.value, mode="eval").body
                except SyntaxError:
                    return False
            return self._is_flask_class(path, annotation)
        return any(
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == arg.arg
            and node.attr in FLASK_APP_ATTRIBUTES
            for node in own_nodes(function.body)
        )


def _calls(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | None, ast.Call]]:
    """Calls at module level and in top-level functions, each with its function."""
    for statement in tree.body:
        function = statement if isinstance(statement, ast.FunctionDef) else None
        if isinstance(statement, ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in walk(statement):
            if isinstance(node, ast.Call):
                yield function, node


def _string_keyword(call: ast.Call | None, name: str) -> str | None:
    value = keyword(call, name)
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _single_target(statement: ast.Assign) -> str | None:
    if len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    return None


#: Methods that configure a Celery app, called on it or on its ``conf``.
CONFIGURE_METHODS = frozenset({"config_from_object", "config_from_envvar", "update", "setdefault"})


def _configured_name(statement: ast.stmt) -> str | None:
    """``celery`` in ``celery.conf.update(...)``, ``celery.config_from_object(...)``,
    ``celery.conf.broker_url = ...`` or ``celery.conf["x"] = ...``; else ``None``."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        if isinstance(func, ast.Attribute) and func.attr in CONFIGURE_METHODS:
            owner = func.value
            if isinstance(owner, ast.Attribute) and owner.attr == "conf":
                owner = owner.value
            if isinstance(owner, ast.Name) and (
                func.attr.startswith("config_from") or func.value is not owner
            ):
                return owner.id
        return None
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Subscript):
            target = target.value
        elif isinstance(target, ast.Attribute):
            target = target.value
        else:
            return None
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "conf"
            and isinstance(target.value, ast.Name)
        ):
            return target.value.id
    return None


def _rebound(function: ast.FunctionDef, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
        for node in own_nodes(function.body)
    )


def _pushes_at_module_level(statement: ast.stmt) -> bool:
    """``app.app_context().push()`` (or ``ctx.push()`` of one) run at import."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    func = statement.value.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "push"
        and is_context_call(func.value, with_client=False)
    )


def _call_pushes(cls: ast.ClassDef) -> bool:
    """Whether the class defines a ``__call__`` that pushes an app context."""
    for statement in cls.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "__call__":
            for node in walk(statement):
                if isinstance(node, ast.Call) and is_context_call(node, with_client=False):
                    return True
    return False
