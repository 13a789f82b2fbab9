"""CTX104 for ``unittest``: a ``TestCase`` whose ``setUp`` makes the app but never pushes its
context.

The Flask Mega-Tutorial's microblog and Flasky, and the many projects that follow them, set up
every test the same way (the recipe's docs show it): ``setUp`` makes the app, keeps its context
on ``self`` and pushes it; ``tearDown`` pops it. Without the push, the first statement that
needs the context fails: ``db.create_all()`` in ``setUp``, or the test's own query. The fix
restores what is missing of those lines, in the ``setUp`` that makes the app (the class's own,
or the project base class's it inherits, through ``super().setUp()`` too) and its
``tearDown``, so every test of the class runs in a context of its own, popped after it. A class
on any other base (``flask_testing.TestCase`` pushes a context itself) is left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from tracefix.diagnose.apps import makes_app
from tracefix.diagnose.apps import set_up_pushes
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.project import path_name
from tracefix.recipes._base import Recipe
from tracefix.recipes.test_without_context.detect import failing_test_facts
from tracefix.scan.context_use import ContextAnalysis
from tracefix.scan.context_use import Definition
from tracefix.scan.context_use import External
from tracefix.scan.context_use import Scope
from tracefix.scan.context_use import Use
from tracefix.scan.context_use import analysis

TEST_CASE_CLASSES = frozenset({"unittest.TestCase", "unittest.case.TestCase"})
#: The attribute the fix keeps the context in, as the tutorials name it.
CONTEXT_ATTRIBUTE = "app_context"


@dataclass(frozen=True)
class SetUp:
    """The ``setUp`` that makes a test class's app, and what it does with the app's context."""

    path: str
    cls: ast.ClassDef
    function: ast.FunctionDef
    #: ``app`` for ``self.app = create_app(...)``, and that statement.
    app: str
    made: ast.stmt
    #: ``app_context`` for ``self.app_context = self.app.app_context()``, if it has that line.
    context: str | None
    #: Whether it pushes that context (``self.app_context.push()``).
    pushes: bool


def is_unittest_module(path: str) -> bool:
    """Whether ``unittest`` discovery (``test*.py``) or a test folder would hold ``path``."""
    name = path_name(path)
    return name.startswith("test") or name.endswith("_test.py") or "/tests/" in f"/{path}"


def unittest_class_at(project: Project, path: str, line: int) -> ast.ClassDef | None:
    """The ``unittest.TestCase`` class of ``path`` whose body spans ``line``."""
    reading = analysis(project)
    tree = project.ast(path)
    for statement in tree.body if tree is not None else ():
        if isinstance(statement, ast.ClassDef) and statement.lineno <= line <= (
            statement.end_lineno or 0
        ):
            return statement if _is_test_case(reading, path, statement, 0) else None
    return None


def set_up_of(project: Project, path: str, cls: ast.ClassDef) -> SetUp | None:
    """The ``setUp`` that runs for ``cls``'s tests (its own, else the nearest project base
    class's), when it makes the app and keeps it on ``self``."""
    reading = analysis(project)
    for owner_path, owner in _class_and_bases(reading, path, cls, 0):
        for function in owner.body:
            if isinstance(function, ast.FunctionDef) and function.name == "setUp":
                found = _set_up(project, owner_path, owner, function)
                if found is not None or not _calls_super_set_up(function):
                    return found
                break  # ``super().setUp()`` (Redash's subclasses): the base's runs first
    return None


def _calls_super_set_up(function: ast.FunctionDef) -> bool:
    """``super().setUp()``, ``super(Cls, self).setUp()`` or ``Base.setUp(self)``."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "setUp"
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self")
        for node in walk(function)
    )


def unittest_failures(recipe: Recipe, path: str, project: Project) -> Iterator[Diagnosis]:
    """``detect`` for ``unittest``: in each test class no set-up of which pushes a context, the
    first statement that needs one: in the ``setUp`` that makes the app, after it does (fixed
    there), else in the class's first test that fails (fixed in that ``setUp``; unfixable
    without one)."""
    if "TestCase" not in (project.source(path) or "") or not is_unittest_module(path):
        return
    reading = analysis(project)
    tree = project.ast(path)
    for cls in tree.body if tree is not None else ():
        if not isinstance(cls, ast.ClassDef) or not _is_test_case(reading, path, cls, 0):
            continue
        if any(set_up_pushes(owner) for _, owner in _class_and_bases(reading, path, cls, 0)):
            continue
        set_up = set_up_of(project, path, cls)
        in_set_up = _set_up_use(reading, set_up) if set_up is not None else None
        if in_set_up is not None:
            # Reported once, where that setUp is (a base class's serves all its subclasses).
            if set_up is not None and set_up.cls is cls:
                yield _diagnosis(recipe, project, path, cls, set_up.function, in_set_up, set_up)
            continue
        for method in cls.body:
            if isinstance(method, ast.FunctionDef) and method.name.startswith("test"):
                use = reading.first_use(method.body, reading.function_scope(path, method))
                if use is not None and use.kind == "app":
                    # One finding for the class: its first test that fails; one fix for all.
                    yield _diagnosis(recipe, project, path, cls, method, use, set_up)
                    break


def _set_up_use(reading: ContextAnalysis, set_up: SetUp) -> Use | None:
    """The first use in ``set_up`` after it makes the app, where each test's set-up fails."""
    after = [s for s in set_up.function.body if s.lineno > set_up.made.lineno]
    use = reading.first_use(after, reading.function_scope(set_up.path, set_up.function))
    return use if use is not None and use.kind == "app" else None


def local_app(project: Project, path: str, cls: ast.ClassDef, name: str, line: int) -> str | None:
    """The app the test method ``name`` makes itself before ``line`` (Redash's ``test_render``:
    ``app = create_app()``), by the name it binds it to."""
    method = next((m for m in cls.body if isinstance(m, ast.FunctionDef) and m.name == name), None)
    found = None
    for statement in method.body if method is not None else ():
        if statement.lineno >= line:
            break
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and makes_app(project, path, statement.value)
        ):
            found = statement.targets[0].id
    return found


def explain(
    cls: ast.ClassDef, function: str, set_up: SetUp | None, app: str | None = None
) -> tuple[str, str | None]:
    """Why ``function`` of ``cls`` runs without a context, and why no fix is offered (``None``
    when the fix pushes the context in ``set_up``, or of the ``app`` the test makes itself)."""
    if set_up is None and app is not None:
        return (
            f"unittest runs {function}() outside any: it makes its own app ({app}) but never "
            f"pushes its context; what follows runs under `with {app}.app_context():`.",
            None,
        )
    if set_up is None:
        reason = (
            f"{cls.name} has no setUp() that keeps the app on self (self.app = "
            "create_app(...)) for a context to be pushed from"
        )
        return f"unittest runs {function}() outside any. No fix is offered: {reason}.", reason
    return (
        f"unittest runs {function}() outside any: {set_up.cls.name}.setUp() "
        f"({set_up.path}:{set_up.function.lineno}) makes the app (self.{set_up.app}) but never "
        "pushes its context. Pushing it there, and popping it in tearDown(), gives each test "
        "of the class a context of its own.",
        None,
    )


def _diagnosis(
    recipe: Recipe,
    project: Project,
    path: str,
    cls: ast.ClassDef,
    function: ast.FunctionDef,
    use: Use,
    set_up: SetUp | None,
) -> Diagnosis:
    app = local_app(project, path, cls, function.name, use.line) if set_up is None else None
    why, reason = explain(cls, function.name, set_up, app)
    more = {"class": cls.name, **({"app": app} if app else {})}
    return recipe.diagnosis(
        f"{use.describe()} needs an app context, and {why}",
        Location(path, use.line, use.column),
        test=failing_test_facts(project, path, function.name, use.line, "", **more),
        **({"reason": reason} if reason else {}),
    )


def _set_up(
    project: Project, path: str, cls: ast.ClassDef, function: ast.FunctionDef
) -> SetUp | None:
    app: str | None = None
    made: ast.stmt | None = None
    context: str | None = None
    pushes = False
    for statement in function.body:
        target = _self_attribute_assigned(statement)
        if target is not None and isinstance(statement, ast.Assign):
            if makes_app(project, path, statement.value):
                app, made = target, statement
            elif app is not None and _is_context_of(statement.value, app):
                context = target
        called = _self_method_called(statement)
        if called is not None and context is not None and called == (context, "push"):
            pushes = True
    if app is None or made is None:
        return None
    return SetUp(path, cls, function, app, made, context, pushes)


def _self_attribute_assigned(statement: ast.stmt) -> str | None:
    """``name`` for ``self.name = ...``."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            return target.attr
    return None


def _self_method_called(statement: ast.stmt) -> tuple[str, str] | None:
    """``("app_context", "push")`` for ``self.app_context.push()``."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and isinstance(func.value.value, ast.Name)
            and func.value.value.id == "self"
        ):
            return func.value.attr, func.attr
    return None


def _is_context_of(value: ast.expr, app: str) -> bool:
    """``self.<app>.app_context()``."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "app_context"
        and isinstance(value.func.value, ast.Attribute)
        and value.func.value.attr == app
        and isinstance(value.func.value.value, ast.Name)
        and value.func.value.value.id == "self"
    )


def _is_test_case(reading: ContextAnalysis, path: str, cls: ast.ClassDef, depth: int) -> bool:
    """Whether ``cls`` is built on ``unittest.TestCase`` through project classes only."""
    if depth > 5 or not cls.bases:
        return False
    for base in cls.bases:
        target = reading.qualify(base, Scope(path))
        if isinstance(target, External) and target.name in TEST_CASE_CLASSES:
            continue
        if isinstance(target, Definition) and isinstance(target.node, ast.ClassDef):
            if _is_test_case(reading, target.path, target.node, depth + 1):
                continue
        if isinstance(target, External) and target.name in ("builtins.object",):
            continue
        return False
    return True


def _class_and_bases(
    reading: ContextAnalysis, path: str, cls: ast.ClassDef, depth: int
) -> Iterator[tuple[str, ast.ClassDef]]:
    """``cls``, then its project base classes, in the order Python looks methods up (depth
    first, as a single-inheritance test hierarchy has it)."""
    yield path, cls
    if depth > 5:
        return
    for base in cls.bases:
        target = reading.qualify(base, Scope(path))
        if isinstance(target, Definition) and isinstance(target.node, ast.ClassDef):
            yield from _class_and_bases(reading, target.path, target.node, depth + 1)
