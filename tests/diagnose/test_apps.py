"""diagnose/apps.py: the project's Flask app, read from its code the way a person would."""

from __future__ import annotations

import ast
import textwrap

import pytest

from tracefix.diagnose.apps import AppSource
from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import pushes_app_context
from tracefix.diagnose.project import Project

FACTORY = """\
    from flask import Flask


    def create_app(config_name="default"):
        app = Flask(__name__)
        return app
    """
REQUIRED_ARGUMENT_FACTORY = FACTORY.replace('config_name="default"', "config_name")


def tree(files: dict[str, str]) -> Project:
    return Project({path: textwrap.dedent(text) for path, text in files.items()})


def test_factory_with_defaults_and_no_call_is_called_bare():
    source = find_app_source(tree({"app/__init__.py": FACTORY}), near="scripts/seed.py")
    assert source == AppSource("factory", "app", "create_app", "app/__init__.py", "create_app()")
    assert source.import_statement == "from app import create_app"


FACTORIES = [
    pytest.param(
        """\
        import flask


        def make_application():
            application = flask.Flask(__name__)
            return application
        """,
        "make_application",
        id="found by its body, through `import flask`, whatever its name",
    ),
    pytest.param(
        """\
        from flask import Flask as BaseFlask


        class App(BaseFlask):
            pass


        def build():
            return App(__name__)
        """,
        "build",
        id="an aliased Flask and a project subclass",
    ),
]


@pytest.mark.parametrize(("code", "name"), FACTORIES)
def test_factory_detection(code, name):
    source = find_app_source(tree({"web/__init__.py": code}))
    assert source is not None and source.kind == "factory"
    assert (source.module, source.name, source.call) == ("web", name, f"{name}()")


def test_function_that_returns_something_else_is_no_factory():
    code = """\
        from flask import Flask

        app = Flask(__name__)


        def configure(target):
            target.config["X"] = 1
            return target.config
        """
    source = find_app_source(tree({"app.py": code}))
    assert source == AppSource("instance", "app", "app", "app.py", "app")


def test_call_and_its_imports_come_from_the_entry_file():
    files = {
        "app/__init__.py": REQUIRED_ARGUMENT_FACTORY,
        "manage.py": """\
            import os

            from app import create_app

            app = create_app(os.getenv("FLASK_CONFIG") or "default")
            """,
        "tests/conftest.py": """\
            from app import create_app

            app = create_app("testing")
            """,
    }
    source = find_app_source(tree(files), near="scripts/seed.py")
    assert source is not None
    assert source.call == 'create_app(os.getenv("FLASK_CONFIG") or "default")'
    assert source.imports == ("import os",)


def test_tests_get_the_call_their_own_tests_make():
    files = {
        "app/__init__.py": REQUIRED_ARGUMENT_FACTORY,
        "wsgi.py": 'from app import create_app\n\napp = create_app("production")\n',
        "tests/conftest.py": 'from app import create_app\n\napp = create_app("testing")\n',
    }
    source = find_app_source(tree(files), near="tests/test_users.py")
    assert source is not None and source.call == 'create_app("testing")'


def test_tests_get_the_call_their_helper_makes_with_its_defaults():
    """CTFd's tests get their app from a helper, ``create_ctfd(config=TestingConfig)``,
    whose body calls ``create_app(config)``; its entry files call ``create_app()``, with the
    production configuration."""
    files = {
        "app/__init__.py": FACTORY.replace('config_name="default"', "config=None"),
        "app/config.py": "class TestingConfig:\n    TESTING = True\n",
        "serve.py": "from app import create_app\n\napp = create_app()\n",
        "wsgi.py": "from app import create_app\n\napp = create_app()\n",
        "tests/helpers.py": """\
            from app import create_app
            from app.config import TestingConfig


            def create_test_app(name="shop", *, setup=True, config=TestingConfig):
                config.SAFE_MODE = not setup
                app = create_app(config)
                return app


            def create_other_app(config=TestingConfig):
                config = config or TestingConfig
                return create_app(config=config)
            """,
    }
    source = find_app_source(tree(files), near="tests/test_users.py")
    assert source is not None
    assert (source.call, source.imports) == (
        "create_app(TestingConfig)",
        ("from app.config import TestingConfig",),
    )
    assert find_app_source(tree(files), near="scripts/seed.py").call == "create_app()"


def test_relative_imports_in_the_arguments_become_absolute():
    files = {
        "shop/__init__.py": REQUIRED_ARGUMENT_FACTORY,
        "shop/settings.py": "class Production:\n    DEBUG = False\n",
        "shop/wsgi.py": """\
            from . import create_app
            from .settings import Production

            app = create_app(Production)
            """,
    }
    source = find_app_source(tree(files))
    assert source is not None
    assert (source.module, source.call) == ("shop", "create_app(Production)")
    assert source.imports == ("from shop.settings import Production",)


def test_calls_using_local_names_are_passed_over():
    files = {
        "app/__init__.py": REQUIRED_ARGUMENT_FACTORY,
        "manage.py": """\
            from app import create_app


            def main(name):
                return create_app(name)
            """,
        "run.py": """\
            from app import create_app

            config_name = "dev"
            app = create_app(config_name)
            """,
    }
    assert find_app_source(tree(files)) is None
    files["app/__init__.py"] = FACTORY
    source = find_app_source(tree(files))
    assert source is not None and source.call == "create_app()"


def test_test_configurations_never_reach_a_script():
    files = {
        "app/__init__.py": REQUIRED_ARGUMENT_FACTORY,
        "tests/conftest.py": 'from app import create_app\n\napp = create_app("testing")\n',
    }
    assert find_app_source(tree(files), near="scripts/seed.py") is None


def test_import_path_is_the_one_the_project_uses():
    files = {
        "src/shop/__init__.py": "from shop.factory import create_app\n",
        "src/shop/factory.py": FACTORY,
        "src/shop/wsgi.py": "from shop import create_app\n\napp = create_app()\n",
    }
    source = find_app_source(tree(files))
    assert source is not None
    assert (source.module, source.path) == ("shop", "src/shop/factory.py")


def test_src_layout_module_comes_from_the_path_when_nothing_imports_it():
    source = find_app_source(tree({"src/shop/web/__init__.py": FACTORY}))
    assert source is not None and source.module == "shop.web"


def test_factory_is_preferred_over_an_instance():
    files = {
        "app/__init__.py": FACTORY,
        "legacy.py": "from flask import Flask\n\napp = Flask(__name__)\n",
    }
    source = find_app_source(tree(files))
    assert source is not None and source.kind == "factory"


def test_several_apps_are_told_apart_by_what_the_near_file_imports():
    files = {
        "shop/__init__.py": FACTORY,
        "admin/__init__.py": FACTORY,
        "scripts/seed.py": "from shop.models import Item\n",
        "scripts/other.py": "print('no imports')\n",
    }
    source = find_app_source(tree(files), near="scripts/seed.py")
    assert source is not None and source.module == "shop"
    assert find_app_source(tree(files), near="scripts/other.py") is None
    assert find_app_source(tree(files)) is None


def test_a_module_whose_import_runs_the_failing_file_is_never_suggested():
    files = {
        "app.py": "from flask import Flask\n\nimport jobs\n\napp = Flask(__name__)\n",
        "jobs.py": "from app import app\n",
    }
    assert find_app_source(tree(files), near="jobs.py") is None
    assert find_app_source(tree(files), near="app.py") is None
    assert find_app_source(tree(files), near="other.py") is not None


def test_test_files_never_define_the_app():
    files = {"tests/conftest.py": "from flask import Flask\n\napp = Flask(__name__)\n"}
    assert find_app_source(tree(files)) is None


IN_SCOPE = [
    pytest.param("from flask import Flask\n\napp = Flask(__name__)\n", None, "app", id="Flask()"),
    pytest.param(
        "from app import create_app\n\napplication = create_app()\n",
        None,
        "application",
        id="a factory call",
    ),
    pytest.param("from wsgi import app\n", None, "app", id="imported from where it lives"),
    pytest.param(
        "from app import create_app\n\napp = create_app()\napp = app.wsgi_app\n",
        None,
        None,
        id="rebound to something else",
    ),
    pytest.param(
        "from app import create_app\n\napp = create_app()\napp.config['X'] = 1\n",
        None,
        "app",
        id="an item assignment does not rebind",
    ),
    pytest.param(
        "from app import create_app\n\nx = 1\napp = create_app()\n",
        3,
        None,
        id="only after the line",
    ),
    pytest.param(
        'from app import create_app\n\nif __name__ == "__main__":\n    app = create_app()\n',
        None,
        "app",
        id="in the __main__ block",
    ),
    pytest.param("from app import db\n", None, None, id="no app"),
    pytest.param(
        "from lemur import create_app\n\napp = create_app(config_path='x')\n",
        None,
        "app",
        id="a factory of a factory, reached as factory.create_app (Lemur's)",
    ),
]


@pytest.mark.parametrize(("script", "before_line", "expected"), IN_SCOPE)
def test_app_name_in_scope(script, before_line, expected):
    files = {
        "app/__init__.py": FACTORY,
        "wsgi.py": "from app import create_app\n\napp = create_app()\n",
        "lemur/__init__.py": (
            "from lemur import factory\n\n\ndef create_app(config_path=None):\n"
            "    app = factory.create_app(config=config_path)\n    return app\n"
        ),
        "lemur/factory.py": (
            "from flask import Flask\n\n\ndef create_app(config=None):\n"
            "    app = Flask(__name__)\n    return app\n"
        ),
        "script.py": script,
    }
    assert app_name_in_scope(tree(files), "script.py", before_line=before_line) == expected


CONTEXTS = [
    pytest.param("with app.app_context():\n    x()\n", 2, True, id="with app.app_context()"),
    pytest.param(
        "with app.test_request_context('/'):\n    if y:\n        x()\n",
        3,
        True,
        id="nested under test_request_context",
    ),
    pytest.param("with app.app_context():\n    pass\nx()\n", 3, False, id="after the with block"),
    pytest.param("app.app_context().push()\nx()\n", 2, True, id="after a push"),
    pytest.param(
        "ctx = app.app_context()\nctx.push()\nx()\n", 3, True, id="after a push through a name"
    ),
    pytest.param(
        "ctx = app.test_request_context()\nctx.push()\nctx.pop()\nx()\n",
        4,
        False,
        id="after a push and its pop",
    ),
    pytest.param(
        "@with_appcontext\ndef command():\n    x()\n", 3, True, id="in a @with_appcontext function"
    ),
    pytest.param(
        "class T(unittest.TestCase):\n"
        "    def setUp(self):\n"
        "        self.app = create_app(TestConfig)\n"
        "        self.app_context = self.app.app_context()\n"
        "        self.app_context.push()\n"
        "\n"
        "    def test_x(self):\n"
        "        x()\n",
        8,
        True,
        id="in a TestCase whose setUp pushes (microblog, flasky)",
    ),
    pytest.param(
        "class T:\n"
        "    def setup_method(self):\n"
        "        self.app.app_context().push()\n"
        "\n"
        "    def test_x(self):\n"
        "        x()\n",
        6,
        True,
        id="in a test class whose setup_method pushes",
    ),
    pytest.param(
        "class T(unittest.TestCase):\n"
        "    def setUp(self):\n"
        "        self.app = create_app(TestConfig)\n"
        "\n"
        "    def test_x(self):\n"
        "        x()\n",
        6,
        False,
        id="in a TestCase whose setUp makes an app only",
    ),
    pytest.param(
        "class T(unittest.TestCase):\n"
        "    def helper(self):\n"
        "        self.app.app_context().push()\n"
        "\n"
        "    def test_x(self):\n"
        "        x()\n",
        6,
        False,
        id="a push in another method than set-up",
    ),
    pytest.param("with open(path):\n    x()\n", 2, False, id="another with"),
    pytest.param("def f():\n    x()\n", 2, False, id="no context"),
]


@pytest.mark.parametrize(("code", "line", "expected"), CONTEXTS)
def test_inside_app_context(code, line, expected):
    assert inside_app_context(tree({"m.py": code}), "m.py", line) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("ctx = app.app_context()\nctx.push()\n", True, id="push through a name"),
        pytest.param(
            "ctx = _app.test_request_context()\nctx.push()\n",
            True,
            id="a test request context (cookiecutter-flask's app fixture)",
        ),
        pytest.param("app.app_context().push()\n", True, id="push of the call itself"),
        pytest.param("ctx = app.app_context()\nctx.push()\nctx.pop()\n", False, id="popped"),
        pytest.param("ctx = app.app_context()\n", False, id="made, never pushed"),
        pytest.param("stack = []\nstack.push()\n", False, id="push of something else"),
        pytest.param("client = app.test_client()\nclient.push()\n", False, id="not a context"),
        pytest.param(
            "if x:\n    app.app_context().push()\n", False, id="only the statements themselves"
        ),
    ],
)
def test_pushes_app_context(code, expected):
    assert pushes_app_context(ast.parse(code).body) is expected
