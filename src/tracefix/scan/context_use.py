"""Where code fails outside a Flask context, read from the code alone (``ast``; nothing is run).

An application context is what ``current_app``, ``g``, ``url_for``, ``render_template``,
``jsonify``, everything Flask-SQLAlchemy does through ``db.session``, ``db.engine``,
``db.create_all()`` and ``Model.query`` (not through a ``db`` given the app, on a project that
declares Flask-SQLAlchemy 2.x: ``diagnose/flask_sqlalchemy.py``) and Flask-Mail's
``mail.send()`` need. ``request``, ``session`` and Flask-Login's ``current_user`` need a
request context: another cause, which the app-context recipes leave alone. A ``Use`` is the
first expression of a block, in the order Python evaluates it, that needs either, found in the
block itself or in the project functions it calls (names resolved through imports and
re-exports, as ``thread_target/spawns.py`` resolves them).

Timid, like the recipes: a name bound at run time, a method of an instance, a decorated function
(``@click.command``, ``@with_appcontext``, a route), a generator, anything under
``with x.app_context():`` and everything after an ``x.push()`` is taken to need nothing, so the
detectors built on this stay silent where they cannot be sure.

One ``ContextAnalysis`` per ``Project`` (``analysis(project)``) remembers what it has resolved,
so every detector of one scan shares the work and every file is parsed once, by ``Project``.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import functools
import re
import weakref
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Literal
from typing import TypeVar

from tracefix.diagnose.apps import is_context_call
from tracefix.diagnose.apps import is_main_guard
from tracefix.diagnose.apps import is_test_path
from tracefix.diagnose.flask_sqlalchemy import CONTEXT_ATTRIBUTES
from tracefix.diagnose.flask_sqlalchemy import CONTEXT_METHODS
from tracefix.diagnose.flask_sqlalchemy import CONTEXT_PROPERTIES
from tracefix.diagnose.flask_sqlalchemy import EXTENSION_CLASSES
from tracefix.diagnose.flask_sqlalchemy import runs_without_context
from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import line_numbers
from tracefix.diagnose.nodes import lines_matching
from tracefix.diagnose.nodes import unmarked_expression
from tracefix.diagnose.nodes import walk as walk_nodes
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_name
from tracefix.diagnose.project import per_project

Kind = Literal["app", "request"]

#: Proxies whose every attribute, item or call needs an app context.
APP_PROXIES = frozenset(
    {"flask.current_app", "flask.g", "flask.globals.current_app", "flask.globals.g"}
)
#: Proxies that need a request context (the app-context recipes leave them to other causes).
REQUEST_PROXIES = frozenset(
    {
        "flask.request",
        "flask.session",
        "flask.globals.request",
        "flask.globals.session",
        "flask_login.current_user",
        "flask_login.utils.current_user",
    }
)
#: Flask functions that read ``current_app`` when called. ``url_for`` is not one of them here:
#: outside a request it needs ``SERVER_NAME`` as well as a context, another cause's fix.
APP_FUNCTIONS = frozenset(
    f"flask.{name}"
    for name in (
        "render_template",
        "render_template_string",
        "stream_template",
        "stream_template_string",
        "jsonify",
        "json.jsonify",
        "make_response",
        "send_file",
        "send_from_directory",
        "templating.render_template",
    )
)
REQUEST_FUNCTIONS = frozenset({"flask.url_for", "flask.helpers.url_for"})
#: Flask-Mail's extension, and its methods that send: each reads ``current_app`` (to tell the
#: ``email_dispatched`` signal which app sent it), whether the instance was given the app or not.
MAIL_CLASSES = frozenset({"flask_mail.Mail"})
MAIL_METHODS = frozenset({"send", "send_message"})
#: Flask's own tests for a context: what an ``if`` on them guards runs only inside one.
CONTEXT_TESTS = frozenset(
    {
        "flask.has_app_context",
        "flask.has_request_context",
        "flask.ctx.has_app_context",
        "flask.ctx.has_request_context",
    }
)
#: Modules a server imports by convention (``gunicorn wsgi:app``): run as ``__main__`` only in
#: their ``if __name__ == "__main__":`` block.
SERVER_ENTRY_FILES = frozenset({"wsgi.py", "asgi.py"})
#: Decorators that leave a function's body as it is, so calling it runs that body.
TRANSPARENT_DECORATORS = frozenset(
    {"builtins.staticmethod", "builtins.classmethod", "functools.cache", "functools.lru_cache"}
)

_BUILTINS = frozenset(dir(builtins))
#: What ``\w`` matches in ASCII text.
_WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
#: Flask's class-based views, and those of the REST extensions (CTFd's API is Flask-RESTX's
#: ``Resource``), and the methods of theirs Flask runs for a request.
_VIEW_CLASSES = frozenset(
    {
        "flask.views.View",
        "flask.views.MethodView",
        "flask_restx.Resource",
        "flask_restx.resource.Resource",
        "flask_restful.Resource",
        "flask_restplus.Resource",
    }
)
_VIEW_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "dispatch_request"}
)
#: The exceptions whose handler catches the ``RuntimeError`` of a missing context.
_CATCHING_RUNTIME_ERROR = frozenset({"RuntimeError", "Exception", "BaseException"})
_IMPORT_LINE = re.compile(r"^\s*(?:from|import)\s", re.MULTILINE)


@dataclass(frozen=True)
class Use:
    """An expression that fails outside a context, and, for a call, where inside it fails."""

    path: str
    line: int
    #: 1-based, in characters.
    column: int
    kind: Kind
    #: The expression as written: ``db.session``, ``current_app``, ``url_for()``, ``seed()``.
    what: str
    #: For a call of a project function: the use inside it that fails.
    inner: Use | None = None
    #: For a call of a Flask function: its name (``flask.url_for``), which recipes tell apart.
    called: str | None = None

    @property
    def deepest(self) -> Use:
        use = self
        while use.inner is not None:
            use = use.inner
        return use

    def describe(self) -> str:
        """``db.session``, or ``seed()``, which reaches ``db.session`` (scripts/seed.py:8)."""
        if self.inner is None:
            return f"`{self.what}`"
        deepest = self.deepest
        return f"`{self.what}`, which reaches `{deepest.what}` ({deepest.path}:{deepest.line}),"


@dataclass(frozen=True)
class External:
    """A name from outside the project: ``flask.current_app``."""

    name: str


@dataclass(frozen=True)
class Module:
    """A project module."""

    path: str


@dataclass(frozen=True, eq=False)
class Definition:
    """What a project file binds at module level (or a class binds): its defining statement."""

    path: str
    name: str
    node: ast.stmt


@dataclass(frozen=True, eq=False)
class Instance:
    """What calling a project class makes: ``User(name=...)``, whose methods are the class's
    (``User(...).save()``)."""

    cls: Definition


Target = External | Module | Definition | Instance | None


@dataclass(frozen=True)
class Scope:
    """How names resolve in a block: the module's bindings, less what a function binds itself
    (``shadowed``), plus the imports it makes (``imports``)."""

    path: str
    shadowed: frozenset[str] = frozenset()
    imports: tuple[tuple[str, Target], ...] = ()


@dataclass(frozen=True)
class _Binding:
    kind: Literal["import", "from", "define", "other"]
    #: ``import``: the module bound; ``from``: the absolute module imported from.
    module: str | None = None
    #: ``from``: the imported name.
    name: str | None = None
    node: ast.stmt | None = None


class _ContextPushed(Exception):
    """Raised inside a walk at ``x.push()``: what follows runs in a context."""


_Value = TypeVar("_Value")


class ContextAnalysis:
    """Resolves names and finds the first ``Use`` of blocks, functions, scripts and imports."""

    def __init__(self, project: Project) -> None:
        #: A proxy, so that the analysis ``per_project`` keeps does not keep the project alive.
        self.project = weakref.proxy(project)
        self.python_files = tuple(project.python_files())
        self._bindings: dict[str, dict[str, _Binding]] = {}
        self._functions: dict[int, Use | None] = {}
        self._imports: dict[str, Use | None] = {}
        self._sqlalchemy: dict[int, bool] = {}
        self._models: dict[int, bool] = {}
        self._lines: dict[str, list[str]] = {}
        self._memo: dict[object, object] = {}
        #: By ``id`` of the statement, kept with it (an ``id`` alone may be reused).
        self._run_by: dict[int, tuple[ast.stmt, tuple[str, ...]]] = {}
        self._scopes: dict[tuple[int, str], tuple[ast.AST, Scope]] = {}
        self._own: dict[int, tuple[ast.AST, list[ast.AST]]] = {}
        self._scope_lines: dict[str, list[int] | None] = {}
        #: The class of each method ``_member`` found, by ``id`` of the method (kept with it).
        self._owners: dict[int, tuple[ast.AST, Definition]] = {}
        self._imports_read_elsewhere: Callable[[], Mapping[str, frozenset[str]]] | None = None

    def remember(self, key: object, compute: Callable[[], _Value]) -> _Value:
        """``compute()`` once per analysis: for detectors' own project-wide indexes."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    # --- what fails -------------------------------------------------------------------------

    def first_use(self, statements: Sequence[ast.stmt], scope: Scope) -> Use | None:
        """The first use in ``statements`` that needs a context, or ``None``."""
        try:
            return self._block(statements, scope, None)
        except _ContextPushed:
            return None

    def function_use(self, path: str, function: ast.FunctionDef) -> Use | None:
        """What calling ``function`` of ``path`` first needs a context for, or ``None``.

        ``None`` also for a function whose call does not run its body as written: decorated
        (bar ``staticmethod``, ``classmethod`` and caches), or a generator.
        """
        key = id(function)
        if key in self._functions:
            return self._functions[key]
        self._functions[key] = None
        found = None
        if self._runs_as_written(path, function):
            found = self.first_use(function.body, self.function_scope(path, function))
        self._functions[key] = found
        return found

    def import_use(self, path: str) -> Use | None:
        """The first use that importing ``path`` runs into: its module-level code, or that of
        a project module it imports first. ``None`` when importing it needs no context."""
        if path in self._imports:
            return self._imports[path]
        self._imports[path] = None
        tree = self.project.ast(path)
        found = None
        if tree is not None:
            body = [statement for statement in tree.body if not is_main_guard(statement)]
            try:
                found = self._block(body, Scope(path), self._imports_hook(path))
            except _ContextPushed:
                found = None
        self._imports[path] = found
        return found

    def script_use(self, path: str) -> Use | None:
        """Where ``path``, run as ``__main__`` (``python path``, ``python -m``), first needs a
        context; ``None`` when it is not a script or it fails some other way first.

        A script is a non-test file that no project file imports, or the
        ``if __name__ == "__main__":`` block of one that some do (its module-level code then
        runs on every import: a failure there is an import-time one, another cause). A use
        reached only after an import whose own module-level code fails is never reached.
        """
        return self.remember(("script", path), lambda: self._script_use(path))

    def _script_use(self, path: str) -> Use | None:
        if not _may_be_script(path):
            return None
        tree = self.project.ast(path)
        if tree is None or self._run_by_alembic(path, tree):
            return None
        hook = self._imports_hook(path)
        scope = Scope(path)
        try:
            if not self.imported_by_others(path) and path_name(path) not in SERVER_ENTRY_FILES:
                return self._block(tree.body, scope, hook)
            guards = [statement for statement in tree.body if is_main_guard(statement)]
            if not guards:
                return None
            outside = [statement for statement in tree.body if not is_main_guard(statement)]
            if self._block(outside, scope, hook) is not None:
                return None
            for guard in guards:
                assert isinstance(guard, ast.If)
                found = self._block(guard.body, scope, hook)
                if found is not None:
                    return found
        except _ContextPushed:
            return None
        return None

    def imported_by_others(self, path: str) -> bool:
        """Whether another project file imports ``path`` (anywhere: in a function too)."""
        module = self.project.module_name(path)
        importers = self._importers().get(module or "", set())
        return bool(importers - {path})

    def _importers(self) -> dict[str, set[str]]:
        """Each module the project imports, with the files that import it: read once, from
        the files whose text has an import statement, or from ``imports_read_elsewhere``."""

        def compute() -> dict[str, set[str]]:
            known = self._imports_read_elsewhere() if self._imports_read_elsewhere else {}
            found: dict[str, set[str]] = {}
            for path in self.python_files:
                modules = known.get(path)
                for module in self.modules_imported_by(path) if modules is None else modules:
                    found.setdefault(module, set()).add(path)
            return found

        return self.remember("importers", compute)

    def modules_imported_by(self, path: str) -> frozenset[str]:
        """Every module that the import statements of ``path`` run, wherever they are."""
        source = self.project.source(path) or ""
        if not _IMPORT_LINE.search(source):
            return frozenset()
        tree = self.project.ast(path)
        if tree is None:
            return frozenset()
        return frozenset(
            module
            for statement in _import_statements(tree.body, source)
            for module in self._modules_run_by(path, statement)
        )

    def imports_read_elsewhere(self, read: Callable[[], Mapping[str, frozenset[str]]]) -> None:
        """``modules_imported_by`` of some files, as ``read()`` gives it once asked: another
        process that parses them anyway computed it (``scan/processes.py``), so that this
        one does not parse them for their imports alone."""
        self._imports_read_elsewhere = read

    # --- names ------------------------------------------------------------------------------

    def qualify(self, node: ast.expr, scope: Scope) -> Target:
        """What ``node`` (a name or ``a.b.c``) refers to, or ``None`` when unsure."""
        if isinstance(node, ast.Name):
            for name, target in scope.imports:
                if name == node.id:
                    return target
            if node.id in scope.shadowed:
                return None
            found = self.definition(scope.path, node.id)
            if found is None and node.id in _BUILTINS:
                return External(f"builtins.{node.id}")
            return found
        if isinstance(node, ast.Attribute):
            return self.attribute(self.qualify(node.value, scope), node.attr)
        if isinstance(node, ast.Call):
            made = self.qualify(node.func, scope)
            if isinstance(made, Definition) and isinstance(made.node, ast.ClassDef):
                return Instance(made)
        return None

    def attribute(self, base: Target, name: str) -> Target:
        if isinstance(base, External):
            return External(f"{base.name}.{name}")
        if isinstance(base, Module):
            module = self.project.module_name(base.path)
            submodule = self.project.module_path(f"{module}.{name}") if module else None
            return Module(submodule) if submodule else self.definition(base.path, name)
        if isinstance(base, Definition) and isinstance(base.node, ast.ClassDef):
            return self._member(base, name, depth=0)
        if isinstance(base, Instance):
            return self._member(base.cls, name, depth=0)
        return None

    def definition(self, path: str, name: str, depth: int = 0) -> Target:
        """What the module-level name ``name`` of ``path`` is, following re-exports."""
        binding = self.bindings(path).get(name)
        if binding is None or depth > 8:
            return None
        if binding.kind == "define":
            assert binding.node is not None
            return Definition(path, name, binding.node)
        if binding.kind == "import":
            return self._module_target(binding.module or "")
        if binding.kind == "from" and binding.module and binding.name:
            source = self.project.module_path(binding.module)
            submodule = self.project.module_path(f"{binding.module}.{binding.name}")
            if submodule is not None:
                return Module(submodule)
            if source is None:
                return External(f"{binding.module}.{binding.name}")
            return self.definition(source, binding.name, depth + 1)
        return None

    def bindings(self, path: str) -> dict[str, _Binding]:
        """The names ``path`` binds at module level (its top level and the ``if``, ``try``
        and ``with`` blocks there), each as its last binding there sets it."""
        if path in self._bindings:
            return self._bindings[path]
        found: dict[str, _Binding] = {}
        tree = self.project.ast(path)
        if tree is not None:
            for statement in _module_level(tree.body):
                for name, binding in self._statement_bindings(path, statement):
                    found[name] = binding
        self._bindings[path] = found
        return found

    def function_scope(self, path: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Scope:
        """The scope of ``function``'s body: its parameters and local names hide the module's.
        Remembered: several detectors ask it of the same functions."""
        key = (id(function), path)
        found = self._scopes.get(key)
        if found is None or found[0] is not function:
            found = self._scopes[key] = (function, self._function_scope(path, function))
        return found[1]

    def _function_scope(self, path: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Scope:
        shadowed: set[str] = set(_parameters(function.args))
        #: How many times the body binds each name, and the call it binds it to, if one.
        stores: dict[str, int] = {}
        calls: dict[str, ast.Call] = {}
        declared_global: set[str] = set()
        imports: list[tuple[str, Target]] = []
        for node in self._own_nodes_of(path, function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name, binding in self._statement_bindings(path, node):
                    imports.append((name, self._binding_target(path, name, binding)))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                shadowed.add(node.id)
                stores[node.id] = stores.get(node.id, 0) + 1
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                shadowed.add(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                shadowed.add(node.name)
            elif isinstance(node, ast.Global):
                declared_global.update(node.names)
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
            ):
                calls[node.targets[0].id] = node.value
        receiver = self._receiver(function, stores)
        if receiver is not None:
            imports.append(receiver)
        scope = Scope(path, frozenset(shadowed - declared_global), tuple(reversed(imports)))
        made = self._instances_made(calls, stores, scope)
        return replace(scope, imports=(*made, *scope.imports)) if made else scope

    def _instances_made(
        self, calls: dict[str, ast.Call], stores: dict[str, int], scope: Scope
    ) -> list[tuple[str, Target]]:
        """The locals bound once, to an instance of a project class: ``instance = cls(**kw)``,
        then ``instance.save()`` (cookiecutter-flask's ``CRUDMixin.create``)."""
        found: list[tuple[str, Target]] = []
        for name, call in calls.items():
            target = self.qualify(call, scope) if stores.get(name) == 1 else None
            if isinstance(target, Instance):
                found.append((name, target))
        return found

    def _receiver(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, rebound: Collection[str]
    ) -> tuple[str, Target] | None:
        """For a method the analysis reached through its class (``User.create``,
        ``User(...).save``): its first parameter, as what it is: the class for a
        ``classmethod`` (``cls(**kwargs)`` makes an instance), an instance of it otherwise
        (``self.save()``); never a name the body binds again, nor a ``staticmethod``'s."""
        owned = self._owners.get(id(function))
        arguments = [*function.args.posonlyargs, *function.args.args]
        if owned is None or owned[0] is not function or not arguments:
            return None
        decorators = {_text(decorator) for decorator in function.decorator_list}
        name = arguments[0].arg
        if "staticmethod" in decorators or name in rebound:
            return None
        owner = owned[1]
        return (name, owner if "classmethod" in decorators else Instance(owner))

    def is_sqlalchemy(self, target: Target) -> bool:
        """Whether ``target`` is a module-level ``SQLAlchemy(...)`` instance that needs an app
        context (on Flask-SQLAlchemy 2.x, one given the app does not)."""
        if not isinstance(target, Definition):
            return False
        key = id(target.node)
        if key not in self._sqlalchemy:
            self._sqlalchemy[key] = False
            made = self._made_by(target)
            self._sqlalchemy[key] = (
                made is not None
                and self.is_sqlalchemy_class(made[1])
                and not runs_without_context(self.project, made[0])
            )
        return self._sqlalchemy[key]

    def _made_by(self, target: Target) -> tuple[ast.Call, Target] | None:
        """For a module-level ``name = Maker(...)``: that call, and what ``Maker`` is."""
        if isinstance(target, Definition) and isinstance(target.node, ast.Assign | ast.AnnAssign):
            value = target.node.value
            if isinstance(value, ast.Call):
                return value, self.qualify(value.func, Scope(target.path))
        return None

    def is_sqlalchemy_class(self, target: Target) -> bool:
        """``SQLAlchemy``, or a project class built on it that leaves alone what needs a
        context (Redash's ``RedashSQLAlchemy`` overrides only how engines are made)."""
        if isinstance(target, External):
            return target.name in EXTENSION_CLASSES
        if not isinstance(target, Definition) or not isinstance(target.node, ast.ClassDef):
            return False
        key = id(target.node)
        if key not in self._sqlalchemy:
            self._sqlalchemy[key] = False  # a class built on itself, through a cycle
            overridden = {
                name
                for statement in target.node.body
                for name, _ in self._statement_bindings(target.path, statement)
            }
            scope = Scope(target.path)
            self._sqlalchemy[key] = not overridden & CONTEXT_ATTRIBUTES and any(
                self.is_sqlalchemy_class(self.qualify(base, scope)) for base in target.node.bases
            )
        return self._sqlalchemy[key]

    def is_sqlalchemy_class_named(self, qualified: str) -> bool:
        """``is_sqlalchemy_class`` of a dotted name (``flask_sqlalchemy.SQLAlchemy``, or a
        project class by its module and name), for the readers that resolve names their own
        way."""
        if qualified in EXTENSION_CLASSES:
            return True
        module, _, name = qualified.rpartition(".")
        path = self.project.module_path(module) if module else None
        return path is not None and self.is_sqlalchemy_class(self.definition(path, name))

    def is_model(self, target: Target) -> bool:
        """Whether ``target`` is a class built on a ``SQLAlchemy`` instance's ``Model``, or a
        name for that ``Model`` (``Model = db.Model``, as cookiecutter-flask's projects have)."""
        if not isinstance(target, Definition):
            return False
        node = target.node
        key = id(node)
        if key not in self._models:
            self._models[key] = False
            scope = Scope(target.path)
            if isinstance(node, ast.ClassDef):
                self._models[key] = any(
                    self._is_model_of_sqlalchemy(base, scope)
                    or self.is_model(self.qualify(base, scope))
                    for base in node.bases
                )
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                # ``Model = db.Model``, or Lemur's ``BaseModel: DefaultMeta = db.Model``.
                self._models[key] = self._is_model_of_sqlalchemy(node.value, scope)
        return self._models[key]

    def _is_model_of_sqlalchemy(self, node: ast.expr, scope: Scope) -> bool:
        """``db.Model`` of a ``SQLAlchemy`` instance ``db``."""
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "Model"
            and self.is_sqlalchemy(self.qualify(node.value, scope))
        )

    def in_view_method(self, path: str, line: int) -> bool:
        """Whether ``line`` of ``path`` is in a method Flask runs to handle a request: ``get``,
        ``post``... or ``dispatch_request`` of a class-based view (a ``flask.views.View``,
        ``MethodView`` or REST ``Resource``, or a project class built on one), FlaskBB's
        ``ViewTopic.get``."""
        return self.view_method_at(path, line) is not None

    def view_method_at(self, path: str, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The method ``in_view_method`` finds ``line`` of ``path`` in, if any."""
        tree = self.project.ast(path)
        for cls in tree.body if tree is not None else ():
            if isinstance(cls, ast.ClassDef) and cls.lineno <= line <= (cls.end_lineno or 0):
                method = next(
                    (
                        method
                        for method in cls.body
                        if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
                        and method.name in _VIEW_METHODS
                        and method.lineno <= line <= (method.end_lineno or 0)
                    ),
                    None,
                )
                if method is None or not self._is_view_class(Definition(path, cls.name, cls), 0):
                    return None
                return method
        return None

    def _is_view_class(self, target: Target, depth: int) -> bool:
        if isinstance(target, External):
            return target.name in _VIEW_CLASSES
        if not isinstance(target, Definition) or not isinstance(target.node, ast.ClassDef):
            return False
        return depth < 5 and any(
            self._is_view_class(self.qualify(base, Scope(target.path)), depth + 1)
            for base in target.node.bases
        )

    def column(self, path: str, line: int, col_offset: int) -> int:
        """The 1-based character column of a node's UTF-8 ``col_offset``."""
        if path not in self._lines:
            self._lines[path] = (self.project.source(path) or "").splitlines()
        lines = self._lines[path]
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if text.isascii():
            return col_offset + 1
        return len(text.encode("utf-8")[:col_offset].decode("utf-8", "ignore")) + 1

    # --- walking blocks ---------------------------------------------------------------------

    def _block(
        self,
        statements: Sequence[ast.stmt],
        scope: Scope,
        on_import: Callable[[ast.Import | ast.ImportFrom], Use | None] | None,
    ) -> Use | None:
        for statement in statements:
            found = self._statement(statement, scope, on_import)
            if found is not None:
                return found
        return None

    def _statement(
        self,
        statement: ast.stmt,
        scope: Scope,
        on_import: Callable[[ast.Import | ast.ImportFrom], Use | None] | None,
    ) -> Use | None:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return None
        if isinstance(statement, ast.With | ast.AsyncWith) and any(
            is_context_call(item.context_expr) for item in statement.items
        ):
            return None
        if _is_push(statement):
            raise _ContextPushed
        if isinstance(statement, ast.If) and self._tests_context(statement.test, scope):
            return self._block(statement.orelse, scope, on_import)
        if isinstance(statement, ast.If) and self._exits_without_context(statement, scope):
            found = self._block(statement.body, scope, on_import)
            if found is not None:
                return found
            raise _ContextPushed  # what follows runs only when there is a context
        if isinstance(statement, ast.Import | ast.ImportFrom):
            return on_import(statement) if on_import is not None else None
        if isinstance(statement, ast.Try) and any(map(_catches_runtime_error, statement.handlers)):
            # ``try: g.get("role") except RuntimeError: return None`` (zou's guards): the use
            # raises where a handler catches it; only the ``finally`` still runs for sure.
            if self._block(statement.body, scope, on_import) is not None:
                return self._block(statement.finalbody, scope, on_import)
        for part in _statement_parts(statement):
            if isinstance(part, list):
                found = self._block(part, scope, on_import)
            else:
                found = self._expression(part, scope)
            if found is not None:
                return found
        return None

    def _expression(self, root: ast.expr, scope: Scope) -> Use | None:
        pending: list[ast.AST] = [root]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.IfExp) and self._tests_context(node.test, scope):
                pending.append(node.orelse)
                continue
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
                # ``current_app and current_app.name``: what follows a test runs inside one.
                tested = next(
                    (i for i, v in enumerate(node.values) if self._tests_context(v, scope)),
                    len(node.values) - 1,
                )
                pending.extend(reversed(node.values[: tested + 1]))
                continue
            found = self._use_at(node, scope)
            if found is not None:
                return found
            pending.extend(reversed(_evaluated_children(node)))
        return None

    def _tests_context(self, test: ast.expr, scope: Scope) -> bool:
        """Whether ``test`` is true only inside a context: ``has_app_context()``,
        ``has_request_context()``, or a context proxy's truth value (``if current_app:``,
        ``bool(request)``: a proxy with nothing bound is false rather than an error)."""
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            return any(self._tests_context(value, scope) for value in test.values)
        if isinstance(test, ast.Call) and not test.keywords:
            if isinstance(test.func, ast.Name) and test.func.id == "bool" and len(test.args) == 1:
                test = test.args[0]
            else:
                called = self.qualify(test.func, scope)
                return (
                    not test.args
                    and isinstance(called, External)
                    and (called.name in CONTEXT_TESTS)
                )
        target = self.qualify(test, scope)
        return isinstance(target, External) and target.name in APP_PROXIES | REQUEST_PROXIES

    def _exits_without_context(self, statement: ast.If, scope: Scope) -> bool:
        """``if not has_app_context(): return``: the rest of the block has a context."""
        test = statement.test
        return (
            isinstance(test, ast.UnaryOp)
            and isinstance(test.op, ast.Not)
            and self._tests_context(test.operand, scope)
            and not statement.orelse
            and bool(statement.body)
            and isinstance(statement.body[-1], ast.Return | ast.Raise)
        )

    def _use_at(self, node: ast.AST, scope: Scope) -> Use | None:
        if isinstance(node, ast.Attribute | ast.Subscript):
            base = self.qualify(node.value, scope)
            if isinstance(base, External):
                kind: Kind | None = (
                    "app"
                    if base.name in APP_PROXIES
                    else "request"
                    if base.name in REQUEST_PROXIES
                    else None
                )
                if kind is not None:
                    return self._use(scope.path, node, kind, _text(node.value))
            if isinstance(node, ast.Attribute) and isinstance(base, Definition):
                if node.attr in CONTEXT_PROPERTIES and self.is_sqlalchemy(base):
                    return self._use(scope.path, node, "app", f"{_text(node.value)}.{node.attr}")
                if node.attr == "query" and self.is_model(base):
                    return self._use(scope.path, node, "app", f"{_text(node.value)}.query")
            # ``db.session.get_bind``, ``db.session[...]``: the session itself, where reading it
            # alone (``event.listen(db.session, ...)``, as microblog does at import) is not.
            session = self._session_use(node.value, scope, ("session",))
            if session is not None:
                return session
        elif isinstance(node, ast.Call):
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            for argument in arguments:
                handed = self.qualify(argument, scope)
                if isinstance(handed, External) and handed.name in REQUEST_PROXIES:
                    return self._use(scope.path, argument, "request", _text(argument))
            session = (
                (
                    self._session_use(node.func.value, scope, ("session", "engine"))
                    if isinstance(node.func, ast.Attribute)
                    else None
                )
                or self._session_use(node.func, scope, ("session",))
                or self._mail_use(node.func, scope)
            )
            if session is not None:
                # ``db.session.add(...)``, ``mail.send(...)``: each fails in the call, after its
                # arguments ran.
                for argument in arguments:
                    found = self._expression(argument, scope)
                    if found is not None:
                        return found
                return session
            method = self._session_use(node.func, scope, CONTEXT_METHODS)
            if method is not None:
                return method
            target = self.qualify(node.func, scope)
            if isinstance(target, External) and target.name in APP_FUNCTIONS:
                return self._use(scope.path, node, "app", f"{_text(node.func)}()", target.name)
            if isinstance(target, External) and target.name in REQUEST_FUNCTIONS:
                return self._use(scope.path, node, "request", f"{_text(node.func)}()", target.name)
            if isinstance(target, Definition) and isinstance(target.node, ast.FunctionDef):
                inner = self.function_use(target.path, target.node)
                if inner is not None:
                    use = self._use(scope.path, node, inner.kind, f"{_text(node.func)}()")
                    return Use(use.path, use.line, use.column, use.kind, use.what, inner)
        return None

    def _session_use(self, node: ast.expr, scope: Scope, attributes: Collection[str]) -> Use | None:
        """``db.<one of attributes>`` of a ``SQLAlchemy`` instance, as a use."""
        if isinstance(node, ast.Attribute) and node.attr in attributes:
            if self.is_sqlalchemy(self.qualify(node.value, scope)):
                return self._use(scope.path, node, "app", f"{_text(node.value)}.{node.attr}")
        return None

    def _mail_use(self, node: ast.expr, scope: Scope) -> Use | None:
        """``mail.send`` (or ``send_message``) of a module-level Flask-Mail ``Mail()``, as a
        use."""
        if isinstance(node, ast.Attribute) and node.attr in MAIL_METHODS:
            made = self._made_by(self.qualify(node.value, scope))
            if made is not None and isinstance(made[1], External) and made[1].name in MAIL_CLASSES:
                return self._use(scope.path, node, "app", f"{_text(node.value)}.{node.attr}")
        return None

    def _use(
        self, path: str, node: ast.AST, kind: Kind, what: str, called: str | None = None
    ) -> Use:
        line = getattr(node, "lineno", 1)
        column = self.column(path, line, getattr(node, "col_offset", 0))
        return Use(path, line, column, kind, what, called=called)

    def _imports_hook(self, path: str) -> Callable[[ast.Import | ast.ImportFrom], Use | None]:
        def on_import(statement: ast.Import | ast.ImportFrom) -> Use | None:
            for module in self._modules_run_by(path, statement):
                file = self.project.module_path(module)
                if file is not None and file != path:
                    found = self.import_use(file)
                    if found is not None:
                        return found
            return None

        return on_import

    def _modules_run_by(self, path: str, statement: ast.Import | ast.ImportFrom) -> tuple[str, ...]:
        """The modules, parent packages first, that ``statement`` runs when it imports."""
        key = id(statement)
        found = self._run_by.get(key)
        if found is None or found[0] is not statement:
            found = self._run_by[key] = (statement, self._compute_modules_run_by(path, statement))
        return found[1]

    def _compute_modules_run_by(
        self, path: str, statement: ast.Import | ast.ImportFrom
    ) -> tuple[str, ...]:
        modules: list[str] = []
        if isinstance(statement, ast.Import):
            names = [alias.name for alias in statement.names]
        else:
            base = self.project.absolute_module(path, statement.module, statement.level)
            if base is None:
                return ()
            names = [base] + [f"{base}.{alias.name}" for alias in statement.names]
        for name in names:
            modules.extend(_prefixes(name))
        return tuple(dict.fromkeys(modules))

    def _statement_bindings(self, path: str, statement: ast.stmt) -> Iterator[tuple[str, _Binding]]:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    yield alias.asname, _Binding("import", alias.name)
                else:
                    top = alias.name.split(".")[0]
                    yield top, _Binding("import", top)
        elif isinstance(statement, ast.ImportFrom):
            module = self.project.absolute_module(path, statement.module, statement.level)
            for alias in statement.names:
                if alias.name != "*":
                    yield alias.asname or alias.name, _Binding("from", module, alias.name)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield statement.name, _Binding("define", node=statement)
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            simple = len(targets) == 1 and isinstance(targets[0], ast.Name)
            for target in targets:
                for node in walk_nodes(target):
                    if isinstance(node, ast.Name):
                        yield node.id, _Binding("define" if simple else "other", node=statement)
        else:
            for name in _stored_names(statement):
                yield name, _Binding("other")

    def _binding_target(self, path: str, name: str, binding: _Binding) -> Target:
        if binding.kind == "import":
            return self._module_target(binding.module or "")
        if binding.kind == "from" and binding.module and binding.name:
            submodule = self.project.module_path(f"{binding.module}.{binding.name}")
            if submodule is not None:
                return Module(submodule)
            source = self.project.module_path(binding.module)
            if source is None:
                return External(f"{binding.module}.{binding.name}")
            return self.definition(source, binding.name)
        return None

    def _module_target(self, module: str) -> Target:
        path = self.project.module_path(module)
        return Module(path) if path is not None else External(module)

    def _member(self, cls: Definition, name: str, depth: int) -> Target:
        """A method or nested name of the project class ``cls``, looked up in its bases too."""
        assert isinstance(cls.node, ast.ClassDef)
        for statement in cls.node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if statement.name == name:
                    if not isinstance(statement, ast.ClassDef):
                        self._owners[id(statement)] = (statement, cls)
                    return Definition(cls.path, f"{cls.name}.{name}", statement)
        if depth > 5:
            return None
        for base in cls.node.bases:
            scope = Scope(cls.path)
            parent = self.qualify(base, scope)
            if (
                isinstance(parent, Definition)
                and isinstance(parent.node, ast.Assign | ast.AnnAssign)
                and parent.node.value is not None
            ):
                # ``Model = db.Model``: the model base, made from ``SQLAlchemy``'s model class.
                base, scope = parent.node.value, Scope(parent.path)
                parent = self.qualify(base, scope)
            if isinstance(base, ast.Attribute) and base.attr == "Model":
                parent = self._model_class(self.qualify(base.value, scope))
            if isinstance(parent, Definition) and isinstance(parent.node, ast.ClassDef):
                found = self._member(parent, name, depth + 1)
                if found is not None:
                    return found
        return None

    def _model_class(self, db: Target) -> Target:
        """The project class ``db.Model`` is made from: ``SQLAlchemy(model_class=CRUDMixin)``
        (flask-realworld-example-app's), else ``None``."""
        if not self.is_sqlalchemy(db):
            return None
        assert isinstance(db, Definition) and isinstance(db.node, ast.Assign | ast.AnnAssign)
        made = db.node.value
        assert isinstance(made, ast.Call)
        given = next((k.value for k in made.keywords if k.arg == "model_class"), None)
        return self.qualify(given, Scope(db.path)) if given is not None else None

    def _runs_as_written(self, path: str, function: ast.FunctionDef) -> bool:
        scope = Scope(path)
        for decorator in function.decorator_list:
            target = self.qualify(decorator, scope)
            if isinstance(decorator, ast.Call):
                target = self.qualify(decorator.func, scope)
            if not (isinstance(target, External) and target.name in TRANSPARENT_DECORATORS):
                return False
        return not any(
            isinstance(node, ast.Yield | ast.YieldFrom)
            for node in self._own_nodes_of(path, function)
        )

    def _run_by_alembic(self, path: str, tree: ast.Module) -> bool:
        """Alembic's ``env.py`` and its revision files run under ``flask db`` (or the
        project's own command), which has pushed the context they read: ``env.py`` imports
        alembic, and every revision file sets ``revision`` and ``down_revision`` (one need not
        import alembic). Most files spell neither, and are not walked."""
        may_name = self.project.may_name
        return (may_name(path, "alembic") or may_name(path, "down_revision")) and (
            _imports_alembic_or_sets_a_revision(tree)
        )

    def _own_nodes_of(
        self, path: str, function: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> list[ast.AST]:
        """``_own_nodes(function.body)``, walked once for both of its readers (whether the
        function is a generator, and its scope), less the expressions that hold nothing either
        looks for: not a target, and no line of theirs spells ``:=``, ``for`` or ``yield``."""
        key = id(function)
        found = self._own.get(key)
        if found is None or found[0] is not function:
            if path not in self._scope_lines:
                self._scope_lines[path] = lines_matching(self.project.source(path), _SCOPE_WORDS)
            nodes = list(_own_nodes(function.body, self._scope_lines[path]))
            found = self._own[key] = (function, nodes)
        return found[1]


@functools.lru_cache(maxsize=8192)
def _prefixes(name: str) -> tuple[str, ...]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``: the modules importing it runs."""
    parts = name.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


def _may_be_script(path: str) -> bool:
    return path.endswith(".py") and path_name(path) != "__init__.py" and not is_test_path(path)


def _imports_alembic_or_sets_a_revision(tree: ast.Module) -> bool:
    assigned: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "alembic":
            return True
        if isinstance(node, ast.Import) and any(
            alias.name.split(".")[0] == "alembic" for alias in node.names
        ):
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            assigned.update(target.id for target in targets if isinstance(target, ast.Name))
    return {"revision", "down_revision"} <= assigned


def _catches_runtime_error(handler: ast.ExceptHandler) -> bool:
    """Whether ``handler`` catches the ``RuntimeError`` a missing context raises."""
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return caught is None or any(
        isinstance(name, ast.Name) and name.id in _CATCHING_RUNTIME_ERROR for name in names
    )


def _is_push(statement: ast.stmt) -> bool:
    """``<anything>.push()`` as a statement: timidly, any push may push a context."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr == "push"
    )


def _statement_parts(statement: ast.stmt) -> Iterator[ast.expr | list[ast.stmt]]:
    """The expressions and nested blocks of ``statement``, in the order they run."""
    if isinstance(statement, ast.Assign):
        yield statement.value
        yield from statement.targets
        return
    if isinstance(statement, ast.AnnAssign):
        if statement.value is not None:
            yield statement.value
            yield statement.target
        return
    for _, value in ast.iter_fields(statement):
        items = value if isinstance(value, list) else [value]
        if items and isinstance(items[0], ast.stmt):
            yield items
            continue
        for item in items:
            if isinstance(item, ast.expr):
                yield item
            elif isinstance(item, ast.withitem):
                yield item.context_expr
            elif isinstance(item, ast.ExceptHandler):
                if item.type is not None:
                    yield item.type
                yield item.body
            elif isinstance(item, ast.match_case):
                if item.guard is not None:
                    yield item.guard
                yield item.body


def _evaluated_children(node: ast.AST) -> list[ast.AST]:
    """The children of ``node`` Python evaluates when it evaluates ``node``, in order."""
    if isinstance(node, ast.Lambda):
        return [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
    if isinstance(node, ast.GeneratorExp):
        return [node.generators[0].iter]
    if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp):
        first, *rest = node.generators
        body: list[ast.AST] = (
            [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        )
        return [first.iter, *first.ifs, *rest, *body]
    if isinstance(node, ast.NamedExpr):
        return [node.value]
    if isinstance(node, ast.expr_context | ast.operator | ast.boolop | ast.unaryop | ast.cmpop):
        return []
    return child_nodes(node)


def _module_level(statements: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at module level: the top level and its ``if``/``try``/``with``."""
    for statement in statements:
        yield statement
        if isinstance(statement, ast.If):
            yield from _module_level(statement.body + statement.orelse)
        elif isinstance(statement, ast.Try | ast.TryStar):
            yield from _module_level(statement.body)
            for handler in statement.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(statement.orelse + statement.finalbody)
        elif isinstance(statement, ast.With):
            yield from _module_level(statement.body)


@dataclass(frozen=True)
class NamingLines:
    """Which lines of a file spell one of some names (as a whole word: in ASCII text, ``\\w``
    is what an identifier is made of): a statement that spans none of them cannot name them,
    and a reader that looks only for those names skips it unread.

    ``numbers`` is ``None`` when the text cannot tell: lines not all ended by ``\\n`` (``ast``
    counts a ``\\r`` as a line end too) or text that is not all ASCII (Python reads identifiers
    NFKC-normalised, so a name may be spelt in other characters)."""

    numbers: list[int] | None

    @classmethod
    def of(cls, source: str, names: Iterable[str]) -> NamingLines:
        if "\r" in source or not source.isascii():
            return cls(None)
        names = sorted(names)
        alternatives = "|".join(map(re.escape, names))
        if not all(name.isidentifier() and name.isascii() for name in names):
            word = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.ASCII)
            starts = [match.start() for match in word.finditer(source)]
        else:
            # The same matches, several times faster: a pattern that starts with a name lets
            # the regex engine skip ahead to it, and the character before is checked here. A
            # match it drops is inside a run of word characters, where no other can start.
            word = re.compile(rf"(?:{alternatives})(?!\w)", re.ASCII)
            starts = [
                match.start()
                for match in word.finditer(source)
                if not (match.start() and source[match.start() - 1] in _WORD_CHARACTERS)
            ]
        return cls(line_numbers(source, starts))

    def may_name_in(self, statement: ast.stmt) -> bool:
        """Whether a line of ``statement``, its decorators included, spells one of the names."""
        numbers = self.numbers
        if numbers is None:
            return True
        start = statement.lineno
        for decorator in getattr(statement, "decorator_list", ()):
            if decorator.lineno < start:
                start = decorator.lineno
        index = bisect.bisect_left(numbers, start)
        return index < len(numbers) and numbers[index] <= (statement.end_lineno or statement.lineno)


def _import_statements(
    statements: Sequence[ast.stmt], source: str
) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``source`` (whose tree's top level is ``statements``), in
    every block, functions and classes included. A statement is looked into only when a line
    it spans has ``import`` on it, as every import statement has on one of its own lines: most
    of a module's functions are skipped unread."""
    importing = NamingLines.of(source, ["import"])
    pending = list(reversed(statements))
    while pending:
        statement = pending.pop()
        if not importing.may_name_in(statement):
            continue
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
            continue
        for _, value in ast.iter_fields(statement):
            if isinstance(value, list) and value:
                if isinstance(value[0], ast.stmt):
                    pending.extend(reversed(value))
                elif isinstance(value[0], ast.ExceptHandler | ast.match_case):
                    for item in reversed(value):
                        pending.extend(reversed(item.body))


_OWN_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
#: What an expression needs to spell to bind a name (a walrus, a comprehension) or to make its
#: function a generator.
_SCOPE_WORDS = re.compile(r":=|\b(?:for|yield)\b", re.ASCII)


def _own_nodes(
    statements: Sequence[ast.stmt], skip_unless: list[int] | None = None
) -> Iterator[ast.AST]:
    """The nodes of a body, not descending into nested functions, classes or lambdas (whose
    own nodes are yielded, so their names count as bound here). With ``skip_unless`` (lines,
    from ``lines_matching``), not the expressions that are no target and span none of them."""
    pending: list[ast.AST] = list(reversed(statements))
    pop = pending.pop
    extend = pending.extend
    while pending:
        node = pop()
        yield node
        if not isinstance(node, _OWN_SCOPES):
            children = child_nodes(node)
            children.reverse()
            if skip_unless is not None:
                children = [c for c in children if not unmarked_expression(c, skip_unless)]
            extend(children)


def _stored_names(statement: ast.stmt) -> Iterator[str]:
    targets: list[ast.AST] = []
    if isinstance(statement, ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [statement.target]
    elif isinstance(statement, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in statement.items if item.optional_vars]
    for target in targets:
        for node in walk_nodes(target):
            if isinstance(node, ast.Name):
                yield node.id


def _parameters(arguments: ast.arguments) -> Iterator[str]:
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        yield arg.arg
    for star in (arguments.vararg, arguments.kwarg):
        if star is not None:
            yield star.arg


def _text(node: ast.expr) -> str:
    """``node`` as written, for messages: a dotted name, or ``ast.unparse``'s short form."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_text(node.value)}.{node.attr}"
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


#: The analysis of a project, shared by every detector that reads it.
analysis = per_project(ContextAnalysis)
