"""CTX104 test-without-app-context: the codemods, the diagnosis, and the cases run for real."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst
import pytest

from tracefix.diagnose.apps import AppSource
from tracefix.diagnose.project import Project
from tracefix.event import Entry
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._base import SkipFix
from tracefix.recipes._case_checks import code
from tracefix.recipes._case_checks import fix_cases
from tracefix.recipes._case_checks import fixed_once
from tracefix.recipes._case_checks import run_before_and_after
from tracefix.recipes._fixing import apply_fix
from tracefix.recipes.test_without_context import AppContextMissingInTest
from tracefix.recipes.test_without_context import fix

RECIPE = AppContextMissingInTest()
APP_MESSAGE = "Working outside of application context."


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "def test_a():\n    pass\n", "def test_a(app):\n    pass\n", id="no parameter"
        ),
        pytest.param(
            "def test_a(client):\n    pass\n",
            "def test_a(client, app):\n    pass\n",
            id="after the other fixtures",
        ),
        pytest.param(
            "def test_a(client, n=3):\n    pass\n",
            "def test_a(client, app, n=3):\n    pass\n",
            id="before a parameter with a default",
        ),
        pytest.param(
            "def test_a(\n    client,\n    db,\n):\n    pass\n",
            "def test_a(\n    client,\n    db,\n    app,\n):\n    pass\n",
            id="one parameter per line",
        ),
        pytest.param(
            "def test_a(\n    client\n):\n    pass\n",
            "def test_a(\n    client,\n    app\n):\n    pass\n",
            id="one parameter per line, no trailing comma",
        ),
    ],
)
def test_add_parameter(before, after):
    assert fix.add_parameter(cst.parse_module(before), "test_a", "app").code == after


@pytest.mark.parametrize(
    ("before", "line", "after"),
    [
        pytest.param(
            code('''
                def test_a(client, app):
                    """Docs."""
                    response = client.get("/")
                    assert find_user("ada")
                    assert response.status_code == 200
            '''),
            4,
            code('''
                def test_a(client, app):
                    """Docs."""
                    response = client.get("/")
                    with app.app_context():
                        assert find_user("ada")
                        assert response.status_code == 200
            '''),
            id="from the failing statement to the end",
        ),
        pytest.param(
            code("""
                def test_a(app):
                    for name in ("a", "b"):
                        add(name)
                    assert count() == 2
            """),
            3,
            code("""
                def test_a(app):
                    with app.app_context():
                        for name in ("a", "b"):
                            add(name)
                        assert count() == 2
            """),
            id="the top-level statement around the failing line",
        ),
    ],
)
def test_wrap_from(before, line, after):
    assert fix.wrap_from(cst.parse_module(before), "test_a", line, "app").code == after


def test_wrap_from_outside_the_test_skips():
    module = cst.parse_module("x = 1\n\n\ndef test_a(app):\n    pass\n")
    with pytest.raises(SkipFix, match="not a statement of test_a"):
        fix.wrap_from(module, "test_a", 1, "app")


FACTORY_SOURCE = AppSource(
    "factory",
    "shop",
    "create_app",
    "shop/__init__.py",
    'create_app(os.environ.get("CONFIG", "testing"))',
    ("import os",),
)


def test_new_conftest_from_a_factory():
    fixture = fix.fixture_code("app", FACTORY_SOURCE)
    assert fix.new_conftest(fixture, fix.fixture_imports(FACTORY_SOURCE)) == code("""
        import os

        import pytest

        from shop import create_app


        @pytest.fixture
        def app():
            app = create_app(os.environ.get("CONFIG", "testing"))
            app.config.update({"TESTING": True})
            yield app
    """)


def test_new_conftest_orders_the_projects_imports_by_module():
    """As isort and ruff do: CTFd's ``create_app`` before its ``CTFd.config``."""
    source = AppSource(
        "factory",
        "CTFd",
        "create_app",
        "CTFd/__init__.py",
        "create_app(TestingConfig)",
        ("from CTFd.config import TestingConfig",),
    )
    fixture = fix.fixture_code("app", source)
    assert fix.new_conftest(fixture, fix.fixture_imports(source)).startswith(
        "import pytest\n\nfrom CTFd import create_app\nfrom CTFd.config import TestingConfig\n"
    )


def test_new_conftest_from_an_instance_named_like_the_fixture():
    source = AppSource("instance", "notes", "app", "notes.py", "app")
    fixture = fix.fixture_code("app", source, "flask_app")
    assert fix.new_conftest(fixture, fix.fixture_imports(source, "flask_app")) == code("""
        import pytest

        from notes import app as flask_app


        @pytest.fixture
        def app():
            yield flask_app
    """)


def test_add_fixture_to_an_existing_conftest():
    before = "import pytest\n\n\n@pytest.fixture\ndef token():\n    return 'x'\n"
    fixture = fix.fixture_code("app", FACTORY_SOURCE)
    after = fix.add_fixture(cst.parse_module(before), fixture, fix.fixture_imports(FACTORY_SOURCE))
    head, _, tail = after.code.partition("\n\n\n")
    imports = ["from shop import create_app", "import os", "import pytest"]
    assert sorted(head.splitlines()) == imports
    assert tail == code("""
        @pytest.fixture
        def token():
            return 'x'


        @pytest.fixture
        def app():
            app = create_app(os.environ.get("CONFIG", "testing"))
            app.config.update({"TESTING": True})
            yield app
    """)


# --- diagnosis and fix on small projects --------------------------------------------------

FACTORY = code("""
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()


    def create_app(config=None):
        app = Flask(__name__)
        app.config.update(config or {})
        db.init_app(app)
        return app
""")
PUSHING = code("""
    import pytest

    from shop import create_app


    @pytest.fixture
    def app():
        app = create_app({"TESTING": True})
        with app.app_context():
            yield app
""")
PLAIN = code("""
    import pytest

    from shop import create_app


    @pytest.fixture
    def app():
        return create_app({"TESTING": True})
""")
TEST = code("""
    from shop import db


    def test_query():
        assert db.session.execute(db.text("select 1")).scalar() == 1
""")
TRIGGER = '    assert db.session.execute(db.text("select 1")).scalar() == 1'


def pytest_event(
    path: str = "tests/test_db.py",
    function: str = "test_query",
    line: int = 5,
    *,
    node_id: str | None = None,
    message: str = APP_MESSAGE,
    between: tuple[Frame, ...] = (),
) -> Event:
    frames = (
        Frame(path, function, line, in_app=True, context_line=TRIGGER),
        *between,
        Frame(
            "/site-packages/flask_sqlalchemy/session.py",
            "_app_ctx_id",
            111,
            module="flask_sqlalchemy.session",
        ),
        Frame(
            "/site-packages/werkzeug/local.py", "_get_current_object", 519, module="werkzeug.local"
        ),
    )
    entry = Entry(("python", "-m", "pytest", path), ".", node_id or f"{path}::{function}")
    return Event(
        (ExceptionInfo("RuntimeError", message, frames=frames),),
        thread_name="MainThread",
        entry=entry,
    )


def project(files: dict[str, str] | None = None) -> Project:
    return Project({"shop/__init__.py": FACTORY, "tests/test_db.py": TEST, **(files or {})})


def fixed(project: Project) -> dict[str, str]:
    return fixed_once(RECIPE, pytest_event(), project)


def test_pushing_fixture_is_requested():
    changed = fixed(project({"tests/conftest.py": PUSHING}))
    assert changed == {"tests/test_db.py": TEST.replace("test_query()", "test_query(app)")}


def test_a_yield_fixture_is_a_fixture():
    """flask-realworld-example-app's conftest: ``@pytest.yield_fixture``, pytest's old name."""
    conftest = PUSHING.replace("@pytest.fixture", "@pytest.yield_fixture")
    changed = fixed(project({"tests/conftest.py": conftest}))
    assert changed == {"tests/test_db.py": TEST.replace("test_query()", "test_query(app)")}


def test_a_new_fixture_never_takes_a_name_the_conftest_binds():
    conftest = "import pytest\n\n\ndef app():\n    return None\n"
    changed = fixed(project({"tests/conftest.py": conftest}))
    assert "def flask_app():\n" in changed["tests/conftest.py"]
    assert "\n\ndef app():\n    return None\n" in changed["tests/conftest.py"]
    assert "def test_query(flask_app):\n" in changed["tests/test_db.py"]


def test_plain_fixture_is_requested_and_its_context_pushed():
    changed = fixed(project({"conftest.py": PLAIN}))
    assert changed["tests/test_db.py"].endswith(
        "def test_query(app):\n    with app.app_context():\n    " + TRIGGER + "\n"
    )


def test_fixture_in_the_test_module_wins_over_conftest():
    test = PUSHING + "\n\n" + TEST.replace("from shop import db\n", "")
    test = test.replace(
        "from shop import create_app\n", "from shop import create_app\nfrom shop import db\n"
    )
    line = test.splitlines().index(TRIGGER) + 1
    case = project({"tests/test_db.py": test, "tests/conftest.py": PLAIN})
    diagnosis = RECIPE.diagnose(pytest_event(line=line), case)
    assert diagnosis is not None
    assert "The `app` fixture (tests/test_db.py:8) pushes one" in diagnosis.explanation


def test_missing_fixture_is_added_to_the_conftest_beside_the_test():
    conftest = "import pytest\n\n\n@pytest.fixture\ndef token():\n    return 'x'\n"
    changed = fixed(project({"tests/conftest.py": conftest}))
    assert "def app():\n    app = create_app()\n" in changed["tests/conftest.py"]
    assert "from shop import create_app\n" in changed["tests/conftest.py"]
    assert "def test_query(app):\n    with app.app_context():\n" in changed["tests/test_db.py"]


def test_new_fixture_avoids_a_module_level_name_of_the_test():
    test = TEST.replace("from shop import db", "from shop import db\nfrom tests import app")
    changed = fixed(project({"tests/test_db.py": test, "tests/__init__.py": "app = None\n"}))
    assert "def flask_app():\n" in changed["tests/conftest.py"]
    assert (
        "def test_query(flask_app):\n    with flask_app.app_context():\n"
        in changed["tests/test_db.py"]
    )


def test_app_instance_imported_by_the_test_is_pushed_directly():
    web = "from flask import Flask\n\napp = Flask(__name__)\n"
    test = TEST.replace("from shop import db", "from shop import db\nfrom web import app")
    changed = fixed(project({"web.py": web, "tests/test_db.py": test}))
    assert changed == {
        "tests/test_db.py": test.replace(
            "def test_query():\n", "def test_query():\n    with app.app_context():\n    "
        )
    }


def test_an_app_the_test_makes_itself_is_pushed_even_beside_an_app_fixture():
    """CTFd's tests: ``app = create_ctfd()``, a helper that returns what the factory made."""
    helpers = code("""
        from shop import create_app


        def make_shop(**config):
            app = create_app({"TESTING": True, **config})
            app.config["SERVER_NAME"] = "localhost"
            return app
    """)
    test = code("""
        from shop import db
        from tests.helpers import make_shop


        def test_query():
            app = make_shop()
            assert db.session.execute(db.text("select 1")).scalar() == 1
    """)
    files = {"tests/helpers.py": helpers, "tests/test_db.py": test}
    for conftest in ({}, {"tests/conftest.py": PLAIN}):
        changed = fixed_once(RECIPE, pytest_event(line=7), project({**files, **conftest}))
        assert changed == {
            "tests/test_db.py": test.replace(
                "    assert db", "    with app.app_context():\n        assert db"
            )
        }


PUSH_POP = code("""
    import pytest

    from shop import create_app


    @pytest.fixture
    def app():
        _app = create_app({"TESTING": True})
        ctx = _app.test_request_context()
        ctx.push()
        yield _app
        ctx.pop()
""")
FINALIZER = code("""
    import pytest

    from shop import create_app


    @pytest.fixture
    def app(request):
        app = create_app({"TESTING": True})
        ctx = app.app_context()
        ctx.push()
        request.addfinalizer(ctx.pop)
        return app
""")
DB_FIXTURE = "\n\n" + code("""
    @pytest.fixture
    def database(app):
        db.create_all()
        yield db
        db.drop_all()
""")


@pytest.mark.parametrize(
    "conftest",
    [
        pytest.param(PUSH_POP, id="ctx = app.test_request_context(); ctx.push(); yield; ctx.pop()"),
        pytest.param(FINALIZER, id="ctx.push(); request.addfinalizer(ctx.pop); return app"),
        pytest.param(
            PLAIN.replace("def app():", "def app(pushed):").replace(
                "return create_app", "return pushed"
            )
            + PUSHING.replace("import pytest\n\nfrom shop import create_app\n", "").replace(
                "def app():", "def pushed():"
            ),
            id="through a fixture it requests",
        ),
    ],
)
def test_app_fixture_that_pushes_is_only_requested(conftest):
    changed = fixed(project({"tests/conftest.py": conftest}))
    assert changed == {"tests/test_db.py": TEST.replace("test_query()", "test_query(app)")}


def test_a_fixture_popping_before_it_yields_pushes_nothing():
    popped = PUSH_POP.replace("    yield _app\n    ctx.pop()\n", "    ctx.pop()\n    yield _app\n")
    changed = fixed(project({"tests/conftest.py": popped}))
    assert "with app.app_context():" in changed["tests/test_db.py"]


NEIGHBOURS_CONFTEST = (
    PUSH_POP.replace(
        "from shop import create_app\n", "from shop import create_app\nfrom shop import db\n"
    )
    + DB_FIXTURE
)


def neighbours(module: str, conftest: str = NEIGHBOURS_CONFTEST) -> Project:
    return project({"tests/test_db.py": code(module), "tests/conftest.py": conftest})


def fixed_neighbours(case: Project) -> dict[str, str]:
    lines = (case.source("tests/test_db.py") or "").splitlines()
    line = len(lines) - lines[::-1].index(TRIGGER)  # the last test's
    return fixed_once(RECIPE, pytest_event(line=line), case)


def test_neighbours_usefixtures_mark_is_copied():
    case = neighbours("""
        import pytest

        from shop import db


        @pytest.mark.usefixtures("database")
        class TestDb:
            def test_tables(self):
                assert db.session.execute(db.text("select 1")).scalar() == 1


        def test_query():
            assert db.session.execute(db.text("select 1")).scalar() == 1
    """)
    diagnosis = RECIPE.diagnose(pytest_event(line=12), case)
    assert diagnosis is not None
    assert (
        "The other tests in this module that use `db` (TestDb.test_tables) request the "
        "`database` fixture (tests/conftest.py:17), which pushes one through `app` "
        "(tests/conftest.py:8)" in diagnosis.explanation
    )
    changed = fixed_neighbours(case)
    assert changed["tests/test_db.py"].endswith(
        '\n\n@pytest.mark.usefixtures("database")\ndef test_query():\n' + TRIGGER + "\n"
    )


def test_neighbours_parameter_is_copied_and_pytest_imported_for_a_mark():
    as_parameter = fixed_neighbours(
        neighbours("""
            from shop import db


            def test_tables(database):
                assert db.session.execute(db.text("select 1")).scalar() == 1


            def test_query():
                assert db.session.execute(db.text("select 1")).scalar() == 1
        """)
    )
    assert "def test_query(database):\n" in as_parameter["tests/test_db.py"]
    hiding = fixed_neighbours(
        neighbours(
            """
            from shop import db


            def test_tables(db):
                assert db.session.execute(db.text("select 1")).scalar() == 1


            def test_query():
                assert db.session.execute(db.text("select 1")).scalar() == 1
        """,
            NEIGHBOURS_CONFTEST.replace("def database(app):", "def db(app):"),
        )
    )
    assert hiding["tests/test_db.py"].startswith("import pytest\n")
    assert '@pytest.mark.usefixtures("db")\ndef test_query():\n' in hiding["tests/test_db.py"]


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(
            """
            from shop import db


            def test_listed(client):
                assert client.get("/").status_code == 200
                assert db.session.execute(db.text("select 1")).scalar() == 1


            def test_query():
                assert db.session.execute(db.text("select 1")).scalar() == 1
            """,
            id="a fixture asked for its value (client.get) is not copied",
        ),
        pytest.param(
            """
            from shop import db


            def test_one(database):
                assert db.session.execute(db.text("select 1")).scalar() == 1


            def test_two(app):
                with app.app_context():
                    assert db.session.execute(db.text("select 1")).scalar() == 1


            def test_three(client):
                assert client.get("/").status_code == 200
                assert db.session.execute(db.text("select 1")).scalar() == 1


            def test_query():
                assert db.session.execute(db.text("select 1")).scalar() == 1
            """,
            id="no fixture requested by more than half",
        ),
        pytest.param(
            """
            from shop import create_app
            from shop import db


            def test_factory(database):
                assert create_app().name == "shop"


            def test_query():
                assert db.session.execute(db.text("select 1")).scalar() == 1
            """,
            id="the neighbours use other things",
        ),
    ],
)
def test_no_clear_neighbour_pattern_keeps_the_app_fixture(module):
    changed = fixed_neighbours(neighbours(module))
    assert "def test_query(app):\n" in changed["tests/test_db.py"]
    assert "usefixtures" not in changed["tests/test_db.py"]


def test_neighbours_fixture_the_test_already_requests_is_not_requested_again():
    case = neighbours("""
        import pytest

        from shop import db


        def test_tables(database):
            assert db.session.execute(db.text("select 1")).scalar() == 1


        @pytest.mark.usefixtures("database")
        def test_query():
            assert db.session.execute(db.text("select 1")).scalar() == 1
    """)
    diagnosis = RECIPE.diagnose(pytest_event(line=12), case)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, case)
    assert isinstance(result, FixSkip), result
    assert "already requests the database fixture" in result.reason


def test_neighbours_fixture_pushing_for_the_session_is_not_copied():
    conftest = NEIGHBOURS_CONFTEST.replace(
        "@pytest.fixture\ndef app", '@pytest.fixture(scope="session")\ndef app'
    )
    case = neighbours(
        """
        from shop import db


        def test_tables(database):
            assert db.session.execute(db.text("select 1")).scalar() == 1


        def test_query():
            assert db.session.execute(db.text("select 1")).scalar() == 1
    """,
        conftest,
    )
    diagnosis = RECIPE.diagnose(pytest_event(line=9), case)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, case)
    assert isinstance(result, FixSkip), result
    assert "has scope session" in result.reason


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param(
            {"requirements.txt": "flask\npytest-flask\n", "conftest.py": PLAIN},
            "pytest-flask",
            id="pytest-flask project",
        ),
        pytest.param(
            {"conftest.py": "pytest_plugins = ['shop.testing']\n"},
            "pytest_plugins",
            id="fixtures may come from a plugin",
        ),
        pytest.param(
            {
                "tests/conftest.py": PUSHING.replace(
                    "@pytest.fixture", '@pytest.fixture(scope="module")'
                )
            },
            "for scope module",
            id="module-scoped fixture pushes",
        ),
        pytest.param(
            {"tests/conftest.py": PLAIN.replace("def app():", "def client():")},
            "fixture client",
            id="another fixture makes its own app",
        ),
        pytest.param(
            {
                "tests/conftest.py": PLAIN,
                "tests/test_db.py": TEST.replace(
                    "from shop import db", "from shop import db\nimport app"
                ),
            },
            "would hide",
            id="app parameter would hide a module name",
        ),
        pytest.param(
            {
                "tests/conftest.py": PUSHING,
                "tests/test_db.py": TEST.replace("def test_query():", "def test_query(app):"),
            },
            "already requests",
            id="stale: pushing fixture already requested",
        ),
        pytest.param(
            {"shop/__init__.py": "x = 1\n"},
            "cannot tell how the project makes",
            id="no app anywhere",
        ),
    ],
)
def test_fix_skips(files, reason):
    case = project(files)
    diagnosis = RECIPE.diagnose(pytest_event(), case)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, case)
    assert isinstance(result, FixSkip), result
    assert reason in result.reason


WRAPPED = TEST.replace(
    "def test_query():\n", "def test_query():\n    with app.app_context():\n    "
)


@pytest.mark.parametrize(
    ("event", "test"),
    [
        pytest.param(
            pytest_event(message="Working outside of request context."),
            TEST,
            id="request context error",
        ),
        pytest.param(
            pytest_event(node_id="tests/test_db.py::TestDb::test_query"),
            TEST,
            id="test method in a class",
        ),
        pytest.param(pytest_event(function="app"), TEST, id="error raised in a fixture"),
        pytest.param(
            pytest_event(between=(Frame("/site-packages/celery/app/task.py", "delay", 1),)),
            TEST,
            id="through another library",
        ),
        pytest.param(pytest_event(line=6), WRAPPED, id="stale: already inside a context"),
        pytest.param(pytest_event(path="tests/helpers.py"), TEST, id="not a test file"),
    ],
)
def test_not_diagnosed(event, test):
    case = project({"tests/test_db.py": test, "tests/helpers.py": test})
    assert RECIPE.diagnose(event, case) is None


# --- the cases, run for real --------------------------------------------------------------

FIX_CASES = fix_cases(__file__)


@pytest.mark.parametrize("case_dir", FIX_CASES, ids=[d.name for d in FIX_CASES])
def test_case_command_fails_before_and_passes_after(case_dir, tmp_path):
    before, after = run_before_and_after(case_dir, tmp_path)
    assert before.returncode != 0, before.output
    assert "Working outside of application context" in before.output, before.output
    assert after.returncode == 0, after.output


def test_a_base_test_case_whose_set_up_subclasses_call_is_fixed_once_there():
    """Redash's ``BaseTestCase``: the subclasses call ``super().setUp()``; one finding, at the
    base's ``setUp``, whose fix serves them all."""
    base = code("""
        import unittest

        from shop import create_app, db


        class BaseTestCase(unittest.TestCase):
            def setUp(self):
                self.app = create_app({"TESTING": True})
                db.create_all()
    """)
    derived = code("""
        from shop import db
        from tests import BaseTestCase


        class TestQuery(BaseTestCase):
            def setUp(self):
                super().setUp()
                self.rows = 1

            def test_query(self):
                assert db.session.execute(db.text("select 1")).scalar() == 1
    """)
    case = project({"tests/__init__.py": base, "tests/test_db.py": derived})
    found = [d for path in case.python_files() for d in RECIPE.detect(path, case)]
    assert [(d.location.path, d.location.line) for d in found] == [("tests/__init__.py", 9)]
    result = apply_fix(RECIPE, found[0], case)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.path == "tests/__init__.py"
    assert "self.app_context.push()\n        db.create_all()" in change.after


def test_a_test_method_that_makes_its_own_app_pushes_its_context_from_the_failing_line():
    """Redash's ``test_render``: ``app = create_app()`` in the test, no setUp of its own."""
    test = code("""
        import unittest

        from shop import create_app, db


        class TestQuery(unittest.TestCase):
            def test_query(self):
                app = create_app({"TESTING": True})
                rows = 1
                assert db.session.execute(db.text("select 1")).scalar() == rows
    """)
    case = project({"tests/test_db.py": test})
    (found,) = RECIPE.detect("tests/test_db.py", case)
    assert RECIPE.offers_fix(found) and "it makes its own app (app)" in found.explanation
    result = apply_fix(RECIPE, found, case)
    assert isinstance(result, FixSuccess), result
    [change] = result.changes
    assert change.after.endswith(
        "        rows = 1\n        with app.app_context():\n"
        '            assert db.session.execute(db.text("select 1")).scalar() == rows\n'
    )


# --- a fixture that keeps a context and no longer pushes it -------------------------------

KEPT_POPPED = PUSH_POP.replace("    ctx.push()\n", "")
KEPT_ONLY = KEPT_POPPED.replace("    ctx.pop()\n", "")
KEPT_FINALIZER = FINALIZER.replace("    ctx.push()\n", "")
GETS_APP = TEST.replace("def test_query():", "def test_query(app):")


def kept(conftest: str, **more: str) -> Project:
    return project({"tests/conftest.py": conftest, "tests/test_db.py": GETS_APP, **more})


@pytest.mark.parametrize(
    ("conftest", "after"),
    [
        pytest.param(KEPT_POPPED, PUSH_POP, id="ctx.pop() after the yield kept"),
        pytest.param(KEPT_ONLY, PUSH_POP, id="neither push nor pop"),
        pytest.param(KEPT_FINALIZER, FINALIZER, id="request.addfinalizer(ctx.pop); return app"),
        pytest.param(
            KEPT_POPPED.replace("@pytest.fixture", '@pytest.fixture(scope="package")'),
            PUSH_POP.replace("@pytest.fixture", '@pytest.fixture(scope="package")'),
            id="package-scoped, as FlaskBB's autouse application fixture",
        ),
    ],
)
def test_a_fixture_keeping_a_context_it_never_pushes_pushes_it(conftest, after):
    """cookiecutter-flask's, FlaskBB's and flask-realworld's ``app`` fixtures with their
    ``ctx.push()`` gone: every test that gets them fails, and the fix is the push, once."""
    case = kept(conftest)
    diagnosis = RECIPE.diagnose(pytest_event(), case)
    assert diagnosis is not None
    assert "makes `ctx` but never pushes it" in diagnosis.explanation
    assert fixed(case) == {"tests/conftest.py": after}


def test_a_kept_context_through_another_fixture_is_pushed_where_it_is_made():
    conftest = KEPT_POPPED.replace(
        "from shop import create_app\n", "from shop import create_app\nfrom shop import db\n"
    )
    test = TEST.replace("def test_query():", "def test_query(database):")
    case = project({"tests/conftest.py": conftest + DB_FIXTURE, "tests/test_db.py": test})
    assert fixed(case) == {
        "tests/conftest.py": conftest.replace(
            "    ctx = _app.test_request_context()\n",
            "    ctx = _app.test_request_context()\n    ctx.push()\n",
        )
        + DB_FIXTURE
    }


def test_a_fixture_that_failed_setting_up_is_diagnosed_by_the_kept_context():
    """``user.save()`` in a ``user`` fixture is where most such suites first fail."""
    conftest = (
        KEPT_POPPED
        + "\n\n"
        + code("""
        @pytest.fixture
        def user(app):
            return make_user()
    """)
    )
    test = TEST.replace("def test_query():", "def test_query(user):")
    case = project({"tests/conftest.py": conftest, "tests/test_db.py": test})
    event = pytest_event(
        "tests/conftest.py",
        "user",
        conftest.splitlines().index("    return make_user()") + 1,
        node_id="tests/test_db.py::test_query",
    )
    diagnosis = RECIPE.diagnose(event, case)
    assert diagnosis is not None and diagnosis.facts["kept"]["line"] == 9
    result = apply_fix(RECIPE, diagnosis, case)
    assert isinstance(result, FixSuccess), result
    assert [c.path for c in result.changes] == ["tests/conftest.py"]
    assert "    ctx = _app.test_request_context()\n    ctx.push()\n" in result.changes[0].after
    assert (
        RECIPE.diagnose(
            event,
            case.with_changes(
                {
                    "tests/conftest.py": PLAIN
                    + "\n\n"
                    + code("""
        @pytest.fixture
        def user(app):
            return make_user()
    """)
                }
            ),
        )
        is None
    )


@pytest.mark.parametrize(
    "conftest",
    [
        pytest.param(
            KEPT_POPPED.replace("    yield _app\n", "    configure(ctx)\n    yield _app\n"),
            id="the context is handed on",
        ),
        pytest.param(
            KEPT_POPPED.replace("    yield _app\n", "    ctx = None\n    yield _app\n"),
            id="the name is bound again",
        ),
    ],
)
def test_a_kept_context_the_fixture_may_use_otherwise_is_left_to_the_test(conftest):
    diagnosis = RECIPE.diagnose(pytest_event(), kept(conftest))
    assert diagnosis is not None and "kept" not in diagnosis.facts


def test_a_returning_fixture_keeping_a_context_is_not_pushed():
    case = kept(KEPT_ONLY.replace("    yield _app\n", "    return _app\n"))
    diagnosis = RECIPE.diagnose(pytest_event(), case)
    assert diagnosis is not None
    result = apply_fix(RECIPE, diagnosis, case)
    assert isinstance(result, FixSkip) and "returns rather than yields" in result.reason


def test_scan_reports_a_kept_context_once_at_the_fixture():
    other = GETS_APP.replace("def test_query(", "def test_other(")
    case = kept(KEPT_POPPED, **{"tests/test_other.py": other})
    from tracefix.scan.engine import scan

    result = scan(case, sorted(case.python_files()), [RECIPE])
    [finding] = result.findings
    assert (finding.path, finding.line, finding.column) == ("tests/conftest.py", 9, 5)
    assert finding.fixable and "test_query() (tests/test_db.py:5)" in finding.message
    fixed_case = case.with_changes(
        {c.path: c.after for c in apply_fix(RECIPE, finding.diagnosis, case).changes}
    )
    assert scan(fixed_case, sorted(fixed_case.python_files()), [RECIPE]).findings == []


# --- a fixture that fails setting a test up ------------------------------------------------

USER_FIXTURE = "\n\n" + code("""
    @pytest.fixture
    def user():
        return make_user()
""")


def fixture_failed(conftest: str, test: str) -> tuple[Project, Event]:
    case = project({"tests/conftest.py": conftest, "tests/test_db.py": test})
    line = conftest.splitlines().index("    return make_user()") + 1
    event = pytest_event("tests/conftest.py", "user", line, node_id="tests/test_db.py::test_query")
    return case, event


def test_a_fixture_set_up_before_the_one_that_pushes_requests_it():
    """``def test_query(user, app)``: pytest sets ``user`` up first, outside ``app``'s context."""
    test = TEST.replace("def test_query():", "def test_query(user, app):")
    case, event = fixture_failed(PUSHING + USER_FIXTURE, test)
    diagnosis = RECIPE.diagnose(event, case)
    assert diagnosis is not None and "does not request the `app` fixture" in diagnosis.explanation
    assert fixed_once(RECIPE, event, case) == {
        "tests/conftest.py": PUSHING + USER_FIXTURE.replace("def user():", "def user(app):")
    }


@pytest.mark.parametrize(
    ("conftest", "test"),
    [
        pytest.param(
            PLAIN + USER_FIXTURE.replace("def user():", "def user(app):"),
            "def test_query(user):",
            id="no fixture pushes one",
        ),
        pytest.param(
            PUSHING.replace("def app():", "def app(user):") + USER_FIXTURE,
            "def test_query(app):",
            id="the fixture that pushes requests the failing one",
        ),
    ],
)
def test_a_fixture_that_fails_with_no_context_to_request_is_not_fixed(conftest, test):
    case, event = fixture_failed(conftest, TEST.replace("def test_query():", test))
    diagnosis = RECIPE.diagnose(event, case)
    assert diagnosis is not None and not RECIPE.offers_fix(diagnosis)
    result = apply_fix(RECIPE, diagnosis, case)
    assert isinstance(result, FixSkip) and "would be popped before the test runs" in result.reason


IN_A_CLASS = code("""
    from shop import db


    class TestQuery:
        def test_query(self, app):
            assert db.session.execute(db.text("select 1")).scalar() == 1
""")


def test_a_test_class_method_gets_a_kept_context_pushed():
    """flask-realworld's and cookiecutter-flask's tests are methods of plain pytest classes."""
    case = kept(KEPT_POPPED, **{"tests/test_db.py": IN_A_CLASS})
    event = pytest_event(line=6, node_id="tests/test_db.py::TestQuery::test_query")
    assert fixed_once(RECIPE, event, case) == {"tests/conftest.py": PUSH_POP}
    [finding] = RECIPE.detect("tests/test_db.py", case)
    assert (finding.location.path, finding.location.line) == ("tests/conftest.py", 9)


def test_a_test_class_method_without_a_kept_context_is_left_alone():
    case = kept(PLAIN, **{"tests/test_db.py": IN_A_CLASS})
    event = pytest_event(line=6, node_id="tests/test_db.py::TestQuery::test_query")
    assert RECIPE.diagnose(event, case) is None
    assert list(RECIPE.detect("tests/test_db.py", case)) == []


def test_a_fixture_failing_in_its_teardown_says_so():
    conftest = (
        KEPT_ONLY
        + "\n\n"
        + code("""
        @pytest.fixture
        def user(app):
            yield 1
            return make_user()
    """)
    )
    test = TEST.replace("def test_query():", "def test_query(user):")
    case, event = fixture_failed(conftest, test)
    diagnosis = RECIPE.diagnose(event, case)
    assert diagnosis is not None and "It fails tearing down the `user` fixture" in (
        diagnosis.explanation
    )


def test_a_failure_through_factory_boy_is_diagnosed():
    """cookiecutter-flask's ``UserFactory(...)`` saves through the session: factory_boy's frames
    sit between the test and Flask-SQLAlchemy's."""
    through = (Frame("/site-packages/factory/base.py", "__call__", 40, module="factory.base"),)
    case = project({"tests/conftest.py": PUSHING})
    assert RECIPE.diagnose(pytest_event(between=through), case) is not None


def test_a_kept_request_context_serves_request_reads_too():
    """``url_for`` in a test needs the request context that ``test_request_context()`` makes."""
    test = code("""
        from flask import url_for


        def test_query(app):
            assert url_for("index") == "/"
    """)
    case = kept(KEPT_POPPED, **{"tests/test_db.py": test})
    [finding] = RECIPE.detect("tests/test_db.py", case)
    assert finding.location.path == "tests/conftest.py"
    event = pytest_event(line=5, message="Working outside of request context.")
    assert fixed_once(RECIPE, event, case) == {"tests/conftest.py": PUSH_POP}
    app_only = KEPT_POPPED.replace("test_request_context()", "app_context()")
    assert RECIPE.diagnose(event, kept(app_only, **{"tests/test_db.py": test})) is None
    assert (
        list(RECIPE.detect("tests/test_db.py", kept(app_only, **{"tests/test_db.py": test}))) == []
    )


def test_a_fixture_that_imports_a_module_failing_at_import_is_left_to_its_recipe():
    """``create_app()`` in a ``client`` fixture imports views whose module-level code needs a
    context: an import-time use (CTX110), not the fixture's."""
    case, event = fixture_failed(PLAIN + USER_FIXTURE, TEST.replace("():", "(user):"))
    module = Frame("shop/views.py", "<module>", 3, in_app=True)
    event = replace(
        event,
        exceptions=(
            replace(
                event.exception,
                frames=(event.exception.frames[0], module, *event.exception.frames[1:]),
            ),
        ),
    )
    assert RECIPE.diagnose(event, case) is None


def test_a_plugin_fixture_the_failing_test_requests_does_not_hide_a_kept_context():
    """FlaskBB's tests request pytest-mock's ``mocker`` beside its autouse fixture."""
    test = GETS_APP.replace("def test_query(app):", "def test_query(mocker, app):")
    case = kept(KEPT_POPPED, **{"tests/test_db.py": test})
    assert fixed(case) == {"tests/conftest.py": PUSH_POP}


@pytest.mark.parametrize(
    ("type_", "message"),
    [
        pytest.param("LookupError", "<ContextVar name='flask.request_ctx' at 0x7f>", id="flask-3"),
        pytest.param("IndexError", "pop from empty list", id="flask-1.1"),
    ],
)
def test_the_teardown_pop_of_a_kept_context_is_diagnosed_by_it(type_, message):
    """A test that needs no context still errors in teardown, at the ``ctx.pop()`` of a context
    its fixture no longer pushes (16 of flask-realworld's tests)."""
    case = kept(KEPT_POPPED)
    line = KEPT_POPPED.splitlines().index("    ctx.pop()") + 1
    frames = (
        Frame("tests/conftest.py", "app", line, in_app=True, context_line="    ctx.pop()"),
        Frame("/site-packages/flask/ctx.py", "pop", 400, module="flask.ctx"),
    )
    event = Event(
        (ExceptionInfo(type_, message, frames=frames),),
        entry=Entry(("python", "-m", "pytest"), ".", "tests/test_db.py::test_query"),
    )
    assert fixed_once(RECIPE, event, case) == {"tests/conftest.py": PUSH_POP}
    other = replace(event, exceptions=(ExceptionInfo(type_, message, frames=frames[1:]),))
    assert RECIPE.diagnose(other, case) is None


def test_a_pop_put_back_takes_the_blank_line_its_deletion_left():
    """The original had a blank line between ``yield`` and ``ctx.pop()``; deleting only the pop
    line leaves the fixture ending in one blank line too many, which the pop takes back."""
    original = code("""
        import pytest


        @pytest.fixture
        def app():
            ctx = make()
            ctx.push()
            yield 1

            ctx.pop()


        @pytest.fixture
        def other():
            pass
    """)
    deleted = original.replace("    ctx.push()\n", "").replace("    ctx.pop()\n", "")
    module = fix.push_kept_context(cst.parse_module(deleted), 6, "ctx", popped=False)
    assert module.code == original
    tight = original.replace("yield 1\n\n", "yield 1\n")
    module = fix.push_kept_context(
        cst.parse_module(tight.replace("    ctx.push()\n", "").replace("    ctx.pop()\n", "")),
        6,
        "ctx",
        popped=False,
    )
    assert module.code == tight
