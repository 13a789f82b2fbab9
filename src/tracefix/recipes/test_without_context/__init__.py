"""CTX104 test-without-app-context: a pytest test without an app context."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from tracefix.diagnose.apps import app_name_at
from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_app_context_error
from tracefix.diagnose.signatures import is_library_frame
from tracefix.diagnose.signatures import is_request_context_error
from tracefix.event import Event
from tracefix.event import Frame
from tracefix.patch import FileChange
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.recipes._scopes import local_names
from tracefix.recipes.test_without_context.detect import failing_test_facts
from tracefix.recipes.test_without_context.detect import given_fixtures
from tracefix.recipes.test_without_context.detect import is_test_module
from tracefix.recipes.test_without_context.detect import kept_facts
from tracefix.recipes.test_without_context.detect import test_definition
from tracefix.recipes.test_without_context.detect import untested_context_failures
from tracefix.recipes.test_without_context.fixtures import Fixture
from tracefix.recipes.test_without_context.fixtures import KeptContext
from tracefix.recipes.test_without_context.fixtures import context_source
from tracefix.recipes.test_without_context.fixtures import declares_plugins
from tracefix.recipes.test_without_context.fixtures import fixtures_in
from tracefix.recipes.test_without_context.fixtures import kept_context
from tracefix.recipes.test_without_context.fixtures import parametrized_names
from tracefix.recipes.test_without_context.fixtures import requested_chain
from tracefix.recipes.test_without_context.fixtures import uses_pytest_flask
from tracefix.recipes.test_without_context.fixtures import visible_fixtures
from tracefix.recipes.test_without_context.neighbours import Pattern
from tracefix.recipes.test_without_context.neighbours import neighbour_pattern
from tracefix.recipes.test_without_context.neighbours import requested
from tracefix.recipes.test_without_context.unittest_cases import explain
from tracefix.recipes.test_without_context.unittest_cases import local_app
from tracefix.recipes.test_without_context.unittest_cases import set_up_of
from tracefix.recipes.test_without_context.unittest_cases import unittest_class_at
from tracefix.recipes.test_without_context.unittest_cases import unittest_failures

#: Libraries whose frames may sit between the project's code and the error: factory_boy's
#: (``factory``) save a model through the session (cookiecutter-flask's ``UserFactory``).
CONTEXT_LIBRARIES = frozenset({"flask", "werkzeug", "sqlalchemy", "jinja2", "factory"})
APP_FIXTURE = "app"
#: Where ``unittest`` calls a test's own code: its set-up, then the test method.
UNITTEST_CALLS = ("_callSetUp", "_callTestMethod")
NEW_FIXTURE_NAMES = ("app", "flask_app", "application")


class AppContextMissingInTest(Recipe):
    """A test uses Flask's app context, but neither the test nor its fixtures pushed one.

    ## What it does
    Matches `RuntimeError: Working outside of application context.` captured from a pytest test
    function or test class method (in a `test_*.py` or `*_test.py` file), raised by the test
    body itself or by project code it calls, with only Flask, Werkzeug, SQLAlchemy or Flask
    extension frames after the project's; from a fixture setting such a test up; or from the
    `setUp` or a test method of a `unittest.TestCase` (run by `python -m unittest`, `python
    tests.py` or pytest).

    ## Why is this bad?
    pytest runs a test function outside any Flask context. Only a request made with the test
    client, or a fixture that pushes `app.app_context()`, provides one, so a test that queries
    `db.session`, reads `current_app` or calls `url_for` directly fails before it checks anything.
    Pushing a context for the whole session instead (an autouse fixture, a bare `push()`) hides
    real bugs: the session is never cleaned up between tests.

    ## Example
        # tests/conftest.py
        @pytest.fixture
        def app():
            return create_app({"TESTING": True})

        # tests/test_users.py
        def test_register(client):
            client.post("/register", data={"username": "ada"})
            assert find_user("ada") is not None

    ## Use instead
        def test_register(client, app):
            client.post("/register", data={"username": "ada"})
            with app.app_context():
                assert find_user("ada") is not None

    A `unittest` suite whose `setUp` makes the app (`self.app = create_app(TestConfig)`, as the
    Flask Mega-Tutorial's and Flasky's do) gets back the lines that push its context there and
    pop it in `tearDown` (a test method that makes its own app instead gets the statements from
    the failing one under `with app.app_context():`):

        def setUp(self):
            self.app = create_app(TestConfig)
            self.app_context = self.app.app_context()
            self.app_context.push()
            db.create_all()

        def tearDown(self):
            db.session.remove()
            db.drop_all()
            self.app_context.pop()

    A fixture that keeps a context but no longer pushes it (`ctx = app.test_request_context()`
    with its `ctx.push()` gone, the `ctx.pop()` after the `yield` perhaps still there) gets the
    push back, right after the line that makes it, and a pop after its `yield` when it has none:
    every test and fixture that gets it was written to run inside that context. `tracefix scan`
    reports it once, where the fixture makes the context, rather than at each test:

        @pytest.fixture
        def app():
            _app = create_app("tests.settings")
            ctx = _app.test_request_context()
            ctx.push()
            yield _app
            ctx.pop()

    A fixture that fails setting a test up (`user.save()` in a `user` fixture) while another
    fixture the test requests pushes the context requests that one too (`def user(app):`), so
    that pytest sets it up first; one that fails where no fixture pushes one gets no fix (see
    below).

    When the other tests of the module that use the same things (`db`, the models) get their
    context from a fixture, the test requests that fixture the way they do: cookiecutter-flask's
    model tests say `@pytest.mark.usefixtures("db")`, and its `db` fixture creates the tables
    and requests the `app` fixture, which pushes a context, so the fix is that mark:

        @pytest.mark.usefixtures("db")
        def test_products_list_by_name():
            ...

    Otherwise, when the `app` fixture already pushes a context (`with app.app_context():` around
    its `yield`, or `ctx.push()` before it, or through a fixture it requests), requesting it is the
    whole fix. When the project has no `app` fixture, one is added to the `conftest.py` next to the
    test, built by the project's own factory call with `TESTING` set (or yielding its module-level
    app); a test module that imports the app itself gets `with app.app_context():` with that app.

    ## Fix safety
    Safe. The context is pushed with `with`, so it is popped when the test ends, only from the
    failing statement on (the statements before it ran without a context), and only in the
    failing test; in a `unittest` class, pushed in `setUp` and popped in `tearDown`, which
    `unittest` runs around each test, so no test shares another's context. A `TestCase` with no
    `setUp` that keeps the app on `self`, whose test makes no app of its own, gets no fix, nor
    one on another base class (`flask_testing`'s pushes a context itself). Assertions are moved
    into the block, never changed. A fixture is copied from the neighbouring tests only when
    more than half of those that share a module-level name with the test and run with a context
    request it for their set-up (a `usefixtures` mark, or a parameter they do not read for its
    value, as `client` is for `client.get`), and as a mark when a parameter would hide a name
    the module binds. No fix is offered for pytest-flask projects (its own fixture pushes a
    request context), when the fixture pushes its context for a wider scope than one test, when
    another fixture already makes an app of its own (a second app would not share its
    configuration or database), when fixtures may come from `pytest_plugins`, or when adding an
    `app` parameter would hide a name the test uses. A kept context is pushed in a fixture that
    yields, or pops it already, whatever its scope: the fixture was written to push it for that
    scope. One that returns would never pop it (no fix); a context the fixture hands on or binds
    twice is not taken as kept. The methods of a test class get only that fix. A fixture that
    fails with no context to request gets no fix: one pushed around part of it would be popped
    before the test runs, with the objects the fixture made in it.

    ## References
    - Flask docs, "Testing Flask Applications": Fixtures; Tests that depend on an Active Context
    - Flask-SQLAlchemy docs, "Flask Application Context": Tests
    - docs/context-errors.md §1.9 `test_missing_app_context`
    """

    code = "CTX104"
    name = "test-without-app-context"
    summary = "A test uses Flask's app context, but nothing pushed one"
    fix_title = "Push an app context for the test: its fixture's, or its setUp's"
    applicability = Applicability.SAFE

    def diagnose(self, event: Event, project: Project) -> Diagnosis | None:
        if is_request_context_error(event.exception):
            # Only where a fixture keeps a request context it no longer pushes.
            found = self._diagnose_pytest(event, project)
            kept = found.facts.get("kept") if found is not None else None
            return found if kept is not None and kept["request"] else None
        if _pops_an_unpushed_context(event):
            # Its teardown's ``ctx.pop()``, where the test itself needed nothing.
            found = self._diagnose_pytest(event, project)
            kept = found.facts.get("kept") if found is not None else None
            first = event.frames[0] if event.frames else None
            line = (first.context_line or "").strip() if first is not None else ""
            if first is None or found is None or kept is None:
                return None
            if line != f"{kept['context']}.pop()":
                return None
            return replace(
                found,
                explanation=f"{first.filename}:{first.lineno} pops `{kept['context']}`, which "
                f"was never pushed: the `{kept['fixture']}` fixture makes it but no longer "
                "pushes it, and the tests that get it were written to run inside it.",
            )
        if not is_app_context_error(event.exception):
            return None
        return self._diagnose_pytest(event, project) or self._diagnose_test_case(event, project)

    def _diagnose_pytest(self, event: Event, project: Project) -> Diagnosis | None:
        found = test_frame(event, project) if event.entry.test is not None else None
        if found is None:
            return self._diagnose_fixture(event, project)
        frame, function, cls = found
        path, line = frame.filename, frame.lineno or 0
        if inside_app_context(project, path, line):
            return None
        test = {
            "path": path,
            "function": function.name,
            "line": line,
            "context_line": frame.context_line,
            "node_id": event.entry.test,
        }
        kept = kept_context(project, given_fixtures(project, path, function, cls))
        if kept is not None:
            return self._kept_diagnosis(project, kept, _needs_context(event, frame), test)
        if cls is not None:
            return None  # a method of a test class: only a kept context's fix is written
        fixture = visible_fixtures(project, path).get(APP_FIXTURE)
        own_app = app_name_in_scope(project, path)
        pattern = neighbour_pattern(project, path, function, _module_level_names(project, path))
        return self.diagnosis(
            _explanation(
                event,
                frame,
                project,
                fixture,
                own_app,
                APP_FIXTURE in _parameters(function),
                pattern,
            ),
            Location(path, line),
            test=test,
        )

    def _kept_diagnosis(
        self, project: Project, kept: KeptContext, lead: str, test: dict[str, Any]
    ) -> Diagnosis:
        return self.diagnosis(
            f"{lead} {kept.describe()}, and the tests and fixtures that get it were written to "
            "run inside it.",
            kept.location,
            test=test,
            kept=kept_facts(project, kept),
        )

    def _diagnose_fixture(self, event: Event, project: Project) -> Diagnosis | None:
        """A fixture that failed setting a test up (``user.save()`` in a ``user`` fixture).

        Fixed where a fixture the test gets keeps a context it never pushes (that push), or
        pushes one the failing fixture does not request, so that pytest may set it up first
        (that request). Otherwise no fix: a context pushed around part of a fixture would be
        popped before the test runs, with what the fixture made in it."""
        found = fixture_frame(event, project)
        if found is None or found[0].lineno is None:
            return None
        frame, failing, test_path, function, cls = found
        phase = "tearing down" if _after_yield(failing, frame.lineno or 0) else "setting up"
        failed = f"{_needs_context(event, frame)} It fails {phase} the `{failing.name}` fixture"
        test = failing_test_facts(
            project,
            test_path,
            function.name,
            frame.lineno or 0,
            event.entry.test or "",
            frame.context_line,
        )
        location = Location(frame.filename, frame.lineno or 0)
        given = given_fixtures(project, test_path, function, cls)
        pushing = next(
            (f for f in given if context_source(project, f) and not _related(project, f, failing)),
            None,
        )
        if pushing is not None:
            return self.diagnosis(
                f"{failed}, which does not request the `{pushing.name}` fixture "
                f"({pushing.path}:{pushing.line}) that pushes one, so pytest may set it up "
                "first.",
                location,
                test=test,
                request={"path": failing.path, "fixture": failing.node.name, "name": pushing.name},
            )
        kept = kept_context(project, given)
        if kept is not None:
            return self._kept_diagnosis(project, kept, f"{failed}.", test)
        return self.diagnosis(
            f"{failed}, and no fixture the test gets pushes one.",
            location,
            test=test,
            reason=(
                f"a context pushed around part of the `{failing.name}` fixture would be popped "
                "before the test runs, with what the fixture made in it; push one for the whole "
                "test in the fixture that makes the app (`ctx = app.app_context()`, "
                "`ctx.push()` before its `yield`, `ctx.pop()` after), and request that fixture"
            ),
        )

    def _diagnose_test_case(self, event: Event, project: Project) -> Diagnosis | None:
        """A ``unittest`` test (``python -m unittest``, ``python tests.py``, or pytest running a
        ``TestCase``) that failed in its ``setUp`` or its test method."""
        frame = unittest_frame(event)
        if frame is None or frame.lineno is None:
            return None
        path, line = frame.filename, frame.lineno
        cls = unittest_class_at(project, path, line)
        if cls is None or inside_app_context(project, path, line):
            return None
        set_up = set_up_of(project, path, cls)
        app = local_app(project, path, cls, frame.function, line) if set_up is None else None
        why, reason = explain(cls, frame.function, set_up, app)
        more = {"class": cls.name, **({"app": app} if app else {})}
        return self.diagnosis(
            f"{path}:{line} needs an app context, and {why}",
            Location(path, line),
            test=failing_test_facts(
                project,
                path,
                frame.function,
                line,
                event.entry.test or "",
                frame.context_line,
                **more,
            ),
            **({"reason": reason} if reason else {}),
        )

    def detect(self, path: str, project: Project) -> Iterable[Diagnosis]:
        yield from untested_context_failures(self, path, project)
        yield from unittest_failures(self, path, project)

    def fix(self, diagnosis: Diagnosis, project: Project) -> tuple[FileChange, ...]:
        from tracefix.recipes._codemod import relocate_line  # LibCST: loaded only to fix
        from tracefix.recipes.test_without_context import fix

        test = diagnosis.facts["test"]
        path, name = test["path"], test["function"]
        if "class" in test:
            return self._fix_test_case(project, test)
        if diagnosis.facts.get("reason"):
            raise SkipFix(diagnosis.facts["reason"])
        if "kept" in diagnosis.facts:
            return _push_kept_context(project, diagnosis.facts["kept"])
        if "request" in diagnosis.facts:
            return _request_in_fixture(project, diagnosis.facts["request"])
        marked = uses_pytest_flask(project)
        if marked is not None:
            raise SkipFix(
                f"{marked} names pytest-flask, whose own fixture pushes a request context for "
                "tests that request `app`; the fix for such a project is not a plain app context"
            )
        source = project.source(path) or ""
        line = relocate_line(source, test["line"], test["context_line"])
        function = project.function(path, name)
        if line is None or function is None:
            raise SkipFix(f"{path} has changed since the failure; cannot find the failing line")
        if inside_app_context(project, path, line):
            raise SkipFix(f"{path}:{line} already runs inside an app context")
        parameters = _parameters(function)
        module_names = _module_level_names(project, path)
        pattern = neighbour_pattern(project, path, function, module_names)
        if pattern is not None:
            return self._follow_neighbours(project, path, function, pattern, module_names)
        fixture = visible_fixtures(project, path).get(APP_FIXTURE)
        own_app = app_name_at(project, path, line)
        if (
            own_app is not None
            and own_app not in parameters
            and (fixture is None or own_app == APP_FIXTURE or own_app in local_names(function))
        ):
            module = fix.wrap_from(project.cst(path), name, line, own_app)
            return (FileChange(path, source, module.code),)
        if fixture is not None:
            return self._use_fixture(project, path, function, line, fixture, module_names)
        return self._add_fixture(project, path, function, line, module_names)

    def _fix_test_case(self, project: Project, test: dict[str, Any]) -> tuple[FileChange, ...]:
        from tracefix.recipes._codemod import relocate_line
        from tracefix.recipes.test_without_context import fix

        path = test["path"]
        if "app" in test:
            source = project.source(path) or ""
            line = relocate_line(source, test["line"], test["context_line"])
            if line is None or inside_app_context(project, path, line):
                raise SkipFix(f"{path} has changed since the failure, or already pushes a context")
            module = fix.wrap_from(project.cst(path), test["class"], line, test["app"])
            return (FileChange(path, source, module.code),)
        tree = project.ast(path)
        cls = next(
            (
                s
                for s in (tree.body if tree is not None else ())
                if isinstance(s, ast.ClassDef) and s.name == test["class"]
            ),
            None,
        )
        set_up = set_up_of(project, path, cls) if cls is not None else None
        if cls is None or set_up is None:
            raise SkipFix(f"{path} has no test class {test['class']} whose setUp() makes the app")
        if set_up.pushes:
            raise SkipFix(f"{set_up.cls.name}.setUp() already pushes the app's context")
        before = project.source(set_up.path) or ""
        after = fix.push_in_set_up(project.cst(set_up.path), set_up).code
        return (FileChange(set_up.path, before, after),)

    def _follow_neighbours(
        self,
        project: Project,
        path: str,
        function: ast.FunctionDef,
        pattern: Pattern,
        module_names: set[str],
    ) -> tuple[FileChange, ...]:
        """Request the fixtures the neighbouring tests request, the way they request them."""
        from tracefix.recipes._codemod import add_imports
        from tracefix.recipes.test_without_context import fix

        name = function.name
        already = requested(function)
        for request in pattern.requests:
            fixture, source = request.fixture, request.source
            where = f"{fixture.path}:{fixture.line}"
            if fixture.name in already:
                raise SkipFix(
                    f"{name}() already requests the {fixture.name} fixture ({where}), which "
                    "gives it a context; something else is missing"
                )
            for scoped in (fixture, source):
                if scoped.scope != "function":
                    raise SkipFix(
                        f"the {scoped.name} fixture ({scoped.path}:{scoped.line}) has scope "
                        f"{scoped.scope or 'chosen at run time'!s}; requesting it would run "
                        f"{name}() in a context shared with other tests"
                    )
        hidden = module_names | parametrized_names(function)
        marks = [
            r.fixture.name for r in pattern.requests if r.form == "mark" or r.fixture.name in hidden
        ]
        module = project.cst(path)
        for request in pattern.requests:
            if request.fixture.name not in marks:
                module = fix.add_parameter(module, name, request.fixture.name)
        if marks:
            if not _imports_pytest(project, path):
                if "pytest" in module_names:
                    raise SkipFix(f"{path} binds `pytest` to something other than the module")
                module = add_imports(module, ["import pytest"], before=len(module.body))
            module = fix.add_usefixtures(module, name, marks)
        return (FileChange(path, project.source(path), module.code),)

    def _use_fixture(
        self,
        project: Project,
        path: str,
        function: ast.FunctionDef,
        line: int,
        fixture: Fixture,
        module_names: set[str],
    ) -> tuple[FileChange, ...]:
        from tracefix.recipes.test_without_context import fix

        name = function.name
        requested = APP_FIXTURE in _parameters(function)
        where = f"{fixture.path}:{fixture.line}"
        if not requested and APP_FIXTURE in module_names:
            raise SkipFix(
                f"{path} has a module-level name {APP_FIXTURE!r} that an `app` parameter of "
                f"{name}() would hide"
            )
        if APP_FIXTURE in parametrized_names(function):
            raise SkipFix(f"{name}() is parametrized with an argument named {APP_FIXTURE!r}")
        module = project.cst(path)
        source = context_source(project, fixture)
        if source is not None:
            for scoped in (fixture, source):
                if scoped.scope != "function":
                    raise SkipFix(
                        f"the app fixture ({where}) pushes its context for scope "
                        f"{scoped.scope or 'chosen at run time'!s}; requesting it would run "
                        f"{name}() in a context shared with other tests"
                    )
            if requested:
                raise SkipFix(
                    f"{name}() already requests the app fixture ({where}), which pushes a context"
                )
            module = fix.add_parameter(module, name, APP_FIXTURE)
        else:
            if not requested:
                module = fix.add_parameter(module, name, APP_FIXTURE)
            module = fix.wrap_from(module, name, line, APP_FIXTURE)
        return (FileChange(path, project.source(path), module.code),)

    def _add_fixture(
        self,
        project: Project,
        path: str,
        function: ast.FunctionDef,
        line: int,
        module_names: set[str],
    ) -> tuple[FileChange, ...]:
        import libcst as cst

        from tracefix.recipes._codemod import free_name
        from tracefix.recipes.test_without_context import fix

        plugins = declares_plugins(project, path)
        if plugins is not None:
            raise SkipFix(
                f"{plugins} sets pytest_plugins, so an app fixture may come from a plugin"
            )
        visible = visible_fixtures(project, path)
        conftest = (PurePosixPath(path).parent / "conftest.py").as_posix().removeprefix("./")
        source = find_app_source(project, near=conftest)
        if source is None:
            raise SkipFix("cannot tell how the project makes its Flask app for a test fixture")
        maker = _fixture_making_an_app(project, visible.values(), source.name)
        if maker is not None:
            raise SkipFix(
                f"fixture {maker.name} ({maker.path}:{maker.line}) already makes an app; a second "
                "app would not share its configuration or database"
            )
        # A name the conftest binds already, fixture or not, is not shadowed by a new fixture.
        taken = (
            module_names
            | _module_level_names(project, conftest)
            | _parameters(function)
            | set(visible)
            | parametrized_names(function)
        )
        name = next((n for n in NEW_FIXTURE_NAMES if n not in taken), None)
        if name is None:
            raise SkipFix("every name for a new app fixture is taken")
        before = project.source(conftest)
        instance = None
        if source.kind == "instance":
            instance = source.name
            if instance == name:
                existing = project.cst(conftest) if before is not None else cst.parse_module("")
                instance = free_name(existing, ("flask_app", "the_app"))
                if instance is None:
                    raise SkipFix(f"no free name to import the app as in {conftest}")
        fixture = fix.fixture_code(name, source, instance)
        imports = fix.fixture_imports(source, instance)
        if before is None:
            after = fix.new_conftest(fixture, imports)
        else:
            after = fix.add_fixture(project.cst(conftest), fixture, imports).code
        module = fix.add_parameter(project.cst(path), function.name, name)
        module = fix.wrap_from(module, function.name, line, name)
        return (
            FileChange(conftest, before, after),
            FileChange(path, project.source(path), module.code),
        )


def _push_kept_context(project: Project, kept: dict[str, Any]) -> tuple[FileChange, ...]:
    from tracefix.recipes._codemod import relocate_line
    from tracefix.recipes.test_without_context import fix

    path = kept["path"]
    source = project.source(path) or ""
    line = relocate_line(source, kept["line"], kept["context_line"])
    if line is None:
        raise SkipFix(f"{path} has changed since the failure; cannot find `{kept['context']}`")
    fixture = next(
        (f for f in fixtures_in(project, path) if f.line <= line <= (f.node.end_lineno or 0)), None
    )
    found = kept_context(project, [fixture]) if fixture is not None else None
    if found is None or found.line != line:
        raise SkipFix(f"{path}:{line} no longer keeps a context its fixture never pushes")
    module = fix.push_kept_context(project.cst(path), line, found.name, found.popped)
    return (FileChange(path, source, module.code),)


def _pops_an_unpushed_context(event: Event) -> bool:
    """``ctx.pop()`` of a context never pushed: a ``LookupError`` from the context variable
    (Flask 2.2 and later), an ``IndexError`` from the empty stack (before)."""
    return event.exception.type in ("LookupError", "IndexError") and any(
        is_library_frame(frame, "flask/ctx.py", "pop") for frame in event.frames
    )


def _after_yield(fixture: Fixture, line: int) -> bool:
    """Whether ``line`` of ``fixture`` runs after its ``yield``: in its teardown."""
    return any(
        isinstance(node, ast.Yield | ast.YieldFrom) and (node.end_lineno or node.lineno) < line
        for node in walk(fixture.node)
    )


def _related(project: Project, one: Fixture, other: Fixture) -> bool:
    """Whether either fixture is the other or requests it, through any number of fixtures."""

    def chain(fixture: Fixture) -> set[tuple[str, int]]:
        return {(f.path, f.line) for f in requested_chain(project, fixture)}

    return (other.path, other.line) in chain(one) or (one.path, one.line) in chain(other)


def _request_in_fixture(project: Project, request: dict[str, str]) -> tuple[FileChange, ...]:
    """The failing fixture requests the one that pushes the test's context, as a parameter."""
    from tracefix.recipes.test_without_context import fix

    path, name, wanted = request["path"], request["fixture"], request["name"]
    failing = next((f for f in fixtures_in(project, path) if f.node.name == name), None)
    if failing is None or failing.path != path:
        raise SkipFix(f"{path} has changed since the failure: no fixture {name}() there")
    if failing.scope != "function":
        raise SkipFix(
            f"the {failing.name} fixture has scope {failing.scope or 'chosen at run time'!s}; "
            f"it cannot request the `{wanted}` fixture, whose context is one test's"
        )
    if wanted in local_names(failing.node):
        raise SkipFix(f"{name}() already binds a name `{wanted}`")
    module = fix.add_parameter(project.cst(path), name, wanted)
    return (FileChange(path, project.source(path), module.code),)


def unittest_frame(event: Event) -> Frame | None:
    """The project frame ``unittest`` called as a test's ``setUp`` or test method, when only
    project or Flask library code follows it: the one after ``unittest/case.py``'s call (the
    last, under a runner's own), or the first frame of a traceback ``unittest`` printed, which
    leaves its own frames out."""
    frames = event.frames
    found = 0 if frames and frames[0].in_app else None
    for index, (before, after) in enumerate(zip(frames, frames[1:], strict=False)):
        if after.in_app and any(
            is_library_frame(before, "unittest/case.py", called) for called in UNITTEST_CALLS
        ):
            found = index + 1
    if found is None or not _project_then_libraries(frames[found + 1 :]):
        return None
    frame = frames[found]
    return frame if frame.function == "setUp" or frame.function.startswith("test") else None


def test_frame(
    event: Event, project: Project
) -> tuple[Frame, ast.FunctionDef, ast.ClassDef | None] | None:
    """The frame of the test function the node id names, its definition and class (a plain
    pytest class's method), when that frame is the outermost of the project's and only project
    or Flask library code follows it."""
    node_id = event.entry.test or ""
    parts = node_id.split("::")
    if len(parts) not in (2, 3):
        return None
    node_path, name = parts[0], parts[-1].split("[")[0]
    frames = event.frames
    first = next((i for i, frame in enumerate(frames) if frame.in_app), None)
    if first is None:
        return None
    frame = frames[first]
    if frame.function != name or frame.lineno is None or not _same_file(frame.filename, node_path):
        return None
    if not is_test_module(frame.filename):
        return None
    if not _project_then_libraries(frames[first + 1 :]):
        return None
    found = test_definition(project, frame.filename, parts[1:])
    function = found[0] if found is not None else None
    if function is None or not function.lineno <= frame.lineno <= (function.end_lineno or 0):
        return None
    return frame, function, found[1] if found is not None else None


def fixture_frame(
    event: Event, project: Project
) -> tuple[Frame, Fixture, str, ast.FunctionDef, ast.ClassDef | None] | None:
    """The frame of the fixture that failed setting up (or tearing down) the test the node id
    names, when it is the outermost of the project's and only project or Flask library code
    follows it; with that fixture, the test's file, its definition and its class."""
    parts = (event.entry.test or "").split("::")
    frames = event.frames
    first = next((i for i, frame in enumerate(frames) if frame.in_app), None)
    if len(parts) not in (2, 3) or first is None or frames[first].lineno is None:
        return None
    frame, line = frames[first], frames[first].lineno or 0
    test_path = next((path for path in project.python_files() if _same_file(path, parts[0])), None)
    found = test_definition(project, test_path, parts[1:]) if test_path else None
    if test_path is None or found is None:
        return None
    fixture = next(
        (
            f
            for f in fixtures_in(project, frame.filename)
            if f.path == frame.filename
            and f.node.name == frame.function
            and f.line <= line <= (f.node.end_lineno or 0)
        ),
        None,
    )
    after = frames[first + 1 :]
    if fixture is None or not _project_then_libraries(after):
        return None
    if event.in_thread or any(f.function == "<module>" for f in after):
        return None  # a thread's, or an import's that the fixture ran: other causes
    return frame, fixture, test_path, *found


def _project_then_libraries(frames: Sequence[Frame]) -> bool:
    in_libraries = False
    for frame in frames:
        if frame.in_app:
            if in_libraries:
                return False
        elif _library(frame) in CONTEXT_LIBRARIES or _library(frame).startswith("flask_"):
            in_libraries = True
        else:
            return False
    return in_libraries


def _library(frame: Frame) -> str:
    if frame.module:
        return frame.module.split(".")[0]
    path = (frame.abs_path or frame.filename).replace("\\", "/")
    _, _, inside = path.rpartition("-packages/")
    return inside.split("/")[0].removesuffix(".py") if inside else ""


def _same_file(filename: str, node_path: str) -> bool:
    return filename == node_path or filename.endswith("/" + node_path)


def _parameters(function: ast.FunctionDef) -> set[str]:
    arguments = function.args
    return {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}


def _module_level_names(project: Project, path: str) -> set[str]:
    tree = project.ast(path) if project.source(path) is not None else None
    names: set[str] = set()
    if tree is None:
        return names
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(
                n.id
                for t in targets
                for n in walk(t)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            )
    return names


def _imports_pytest(project: Project, path: str) -> bool:
    tree = project.ast(path)
    return tree is not None and any(
        isinstance(node, ast.Import)
        and any(a.name == "pytest" and a.asname is None for a in node.names)
        for node in tree.body
    )


def _fixture_making_an_app(
    project: Project, fixtures: Iterable[Fixture], factory: str
) -> Fixture | None:
    """A fixture that calls ``Flask(...)`` or the factory, or reads its file's app instance."""
    for fixture in fixtures:
        instance = app_name_in_scope(project, fixture.path)
        for node in walk(fixture.node):
            if isinstance(node, ast.Call) and _called_name(node) in {"Flask", factory}:
                return fixture
            if isinstance(node, ast.Name) and instance is not None and node.id == instance:
                return fixture
    return None


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _explanation(
    event: Event,
    frame: Frame,
    project: Project,
    fixture: Fixture | None,
    own_app: str | None,
    requested: bool,
    pattern: Pattern | None,
) -> str:
    text = _needs_context(event, frame)
    if pattern is not None:
        return text + " " + _pattern_text(pattern)
    if own_app is not None and (fixture is None or own_app == APP_FIXTURE):
        return text + f" The test module has the app as `{own_app}` but pushes no context."
    if fixture is None:
        return text + " The project has no `app` fixture this test can see."
    where = f"{fixture.path}:{fixture.line}"
    source = context_source(project, fixture)
    if source is not None and not requested:
        how = "" if source is fixture else f" through `{source.name}` ({source.path}:{source.line})"
        return (
            text
            + f" The `app` fixture ({where}) pushes one{how}, but the test does not request it."
        )
    return text + f" The `app` fixture ({where}) makes the app but pushes no context."


def _needs_context(event: Event, frame: Frame) -> str:
    trigger = event.trigger_frame()
    through = (
        f" (through {trigger.filename}:{trigger.lineno})"
        if trigger is not None and trigger is not frame
        else ""
    )
    return (
        f"{frame.function} ({frame.filename}:{frame.lineno}) needs an app context{through}, "
        "but pytest runs a test outside any Flask context: only a test-client request, or a "
        "fixture that pushes app.app_context(), provides one."
    )


def _pattern_text(pattern: Pattern) -> str:
    shared = ", ".join(f"`{name}`" for name in pattern.shared)
    tests = ", ".join(pattern.tests[:3]) + (
        f" and {len(pattern.tests) - 3} more" if len(pattern.tests) > 3 else ""
    )
    parts = []
    for request in pattern.requests:
        fixture, source = request.fixture, request.source
        how = (
            "pushes one"
            if source is fixture
            else f"pushes one through `{source.name}` ({source.path}:{source.line})"
        )
        parts.append(f"the `{fixture.name}` fixture ({fixture.path}:{fixture.line}), which {how}")
    return (
        f"The other tests in this module that use {shared} ({tests}) request "
        + "; and ".join(parts)
        + ". This test requests no such fixture."
    )
