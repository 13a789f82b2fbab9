"""How the engine maps a repository's files to the modules its code imports."""

from __future__ import annotations

import pytest

from tracefix.diagnose.project import Project
from tracefix.recipes import all_recipes
from tracefix.scan.engine import scan

#: pgAdmin's layout: the package lives in ``web/``, next to the script that runs it.
PGADMIN_LIKE = {
    "web/pgAdmin4.py": "from pgadmin import create_app\n\napp = create_app()\n",
    "web/pgadmin/__init__.py": (
        "from flask import Flask\n\nfrom pgadmin.model import db\n\n\n"
        "def create_app():\n    app = Flask(__name__)\n    db.init_app(app)\n    return app\n"
    ),
    "web/pgadmin/model/__init__.py": (
        "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"
    ),
    "web/pgadmin/tools/__init__.py": "from ..model import db\n",
    "docs/conf.py": "project = 'x'\n",
}


def test_a_package_imported_from_its_own_folder_is_named_from_there() -> None:
    project = Project(PGADMIN_LIKE)
    assert project.module_name("web/pgadmin/model/__init__.py") == "pgadmin.model"
    assert project.module_path("pgadmin.model") == "web/pgadmin/model/__init__.py"
    relative = project.absolute_module("web/pgadmin/tools/__init__.py", "model", 2)
    assert relative == "pgadmin.model"


def test_the_usual_roots_keep_their_names() -> None:
    project = Project(
        {
            "src/shop/web/__init__.py": "",  # a namespace package's part: shop.web
            "src/pkg/__init__.py": "",
            "src/pkg/a.py": "",
            "app/__init__.py": "",
            "app/models.py": "",
            "tests/test_x.py": "from app import models\n",
            "examples/demo/app/__init__.py": "",  # not imported by the name "demo"
        }
    )
    assert project.module_name("src/shop/web/__init__.py") == "shop.web"
    assert project.module_name("src/pkg/a.py") == "pkg.a"
    assert project.module_name("app/models.py") == "app.models"
    assert project.module_name("tests/test_x.py") == "tests.test_x"
    assert project.module_path("app") == "app/__init__.py"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("app/.py", None),
        ("app/v1.2.py", None),
        ("app/my-module.py", None),
        ("__init__.py", None),
        ("app/__init__.py", "app"),
        ("src/app/__init__.py", "app"),
        ("app.py", "app"),
        ("app/templates", None),
    ],
)
def test_only_importable_files_have_a_module_name(path: str, name: str | None) -> None:
    assert Project({path: ""}).module_name(path) == name


def test_an_extension_registered_in_a_package_of_its_own_folder_is_not_reported() -> None:
    project = Project(PGADMIN_LIKE)
    recipes = [r for r in all_recipes() if r.code == "CTX111"]
    assert scan(project, list(project.python_files()), recipes).findings == []


def test_a_file_that_does_not_parse_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mailu's models.py uses Python 3.12 f-strings, and every module imports it: parsing it
    again for each question took its scan from 1 s to 7 s."""
    import ast

    parsed = []
    original = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *a, **k: parsed.append(a) or original(*a, **k))
    project = Project({"app/models.py": "def (:\n"})
    assert project.ast("app/models.py") is None
    assert project.ast("app/models.py") is None
    assert len(parsed) == 1


def test_a_module_two_package_folders_have_is_found_in_neither() -> None:
    """A monorepo's two services, each with its own ``app`` package imported as ``app``:
    which one an import means depends on where it runs, so the engine does not guess."""
    service = {
        "app/__init__.py": "from flask import Flask\n",
        "app/models.py": "",
        "run.py": "from app import models\n",
    }
    project = Project(
        {
            **{f"services/a/{path}": text for path, text in service.items()},
            **{f"services/b/{path}": text for path, text in service.items()},
            "services/b/app/extra.py": "",
        }
    )
    assert project.module_path("app.models") is None
    assert project.module_path("app.extra") == "services/b/app/extra.py"
    assert project.module_name("services/a/app/models.py") == "app.models"
