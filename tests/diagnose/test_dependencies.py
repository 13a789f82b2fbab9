"""Which versions of a library a project declares, from the files real projects use."""

from __future__ import annotations

import pytest

from tracefix.diagnose.dependencies import python_not_admitted
from tracefix.diagnose.dependencies import runs_only_before
from tracefix.diagnose.project import Project


@pytest.mark.parametrize(
    ("files", "before_3"),
    [
        # pip-compile output: pinned, hashed, with the "via" comments.
        (
            {
                "requirements.txt": "flask-sqlalchemy==2.5.1 \\\n"
                "    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via -r requirements.in\n"
            },
            True,
        ),
        # The pin is what is installed, whatever the looser input file says.
        (
            {
                "requirements.in": "Flask-SQLAlchemy\n",
                "requirements.txt": "flask_sqlalchemy==2.5.1\n",
            },
            True,
        ),
        ({"requirements.txt": "-r base.txt\nflask-sqlalchemy~=2.5  # legacy\n"}, True),
        # A requirements folder, included from the top file (flasky's layout).
        (
            {
                "requirements.txt": "-r requirements/heroku.txt\n",
                "requirements/heroku.txt": "-r common.txt\ngunicorn==19.7.1\n",
                "requirements/common.txt": "Flask-SQLAlchemy==2.2\n",
            },
            True,
        ),
        ({"requirements/README.md": "flask-sqlalchemy==2.2\n"}, False),
        ({"requirements-dev.txt": 'flask-sqlalchemy==2.*; python_version >= "3.8"\n'}, True),
        ({"requirements.txt": "flask-sqlalchemy>=2.4\n"}, False),
        ({"requirements.txt": "flask-sqlalchemy<3.2\n"}, False),
        ({"requirements.txt": "flask-sqlalchemy==3.0.5\n"}, False),
        (
            {
                "requirements.txt": "flask-sqlalchemy==2.5.1\n",
                "web/requirements.txt": "flask-sqlalchemy==3.1.1\n",
            },
            False,
        ),
        (
            {"pyproject.toml": '[project]\ndependencies = ["flask-sqlalchemy (>=2.1, <3.0)"]\n'},
            True,
        ),
        (
            {"pyproject.toml": '[project.optional-dependencies]\ndb = ["flask-sqlalchemy<3"]\n'},
            True,
        ),
        ({"pyproject.toml": '[dependency-groups]\ndev = ["flask-sqlalchemy==2.4.4"]\n'}, True),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nFlask-SQLAlchemy = "^2.5.1"\n'}, True),
        (
            {
                "pyproject.toml": (
                    '[tool.poetry.dependencies]\nflask-sqlalchemy = {version = "~2.5"}\n'
                )
            },
            True,
        ),
        (
            {"pyproject.toml": '[tool.poetry.group.dev.dependencies]\nflask-sqlalchemy = "^3.0"\n'},
            False,
        ),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nflask-sqlalchemy = "*"\n'}, False),
        ({"setup.cfg": "[options]\ninstall_requires =\n    flask\n    flask-sqlalchemy<3\n"}, True),
        # Nothing said, or nothing readable: no claim.
        ({}, False),
        ({"requirements.txt": "flask\nsqlalchemy==1.4.52\n"}, False),
        ({"pyproject.toml": "[project\n"}, False),
        ({"pyproject.toml": 'project = "shop"\ntool = 1\n[dependency-groups]\ndev = 2\n'}, False),
        ({"requirements.txt": "flask-sqlalchemy=2.5\n"}, False),
    ],
)
def test_runs_only_before(files, before_3):
    project = Project({"app.py": "import flask_sqlalchemy\n", **files})
    assert runs_only_before(project, "flask-sqlalchemy", "3") is before_3


@pytest.mark.parametrize(
    ("files", "excluding"),
    [
        # Indico's: a newer Python than 3.11, whose f-strings 3.11 cannot read.
        ({"pyproject.toml": "[project]\nrequires-python = '>=3.12.2, <3.13'\n"}, ">=3.12.2, <3.13"),
        ({"pyproject.toml": "[project]\nrequires-python = '>=3.9'\n"}, None),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.12"\n'}, ">=3.12,<4"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\n'}, None),
        ({"setup.cfg": "[options]\npython_requires = >=3.13\n"}, ">=3.13"),
        ({"setup.cfg": "[options\npython_requires = >=3.13\n"}, None),
        ({"pyproject.toml": "[project]\nrequires-python = 'three'\n"}, None),
        ({"pyproject.toml": "[project\n"}, None),
        ({"requirements.txt": "flask>=3\n"}, None),
    ],
)
def test_python_not_admitted(files, excluding):
    assert python_not_admitted(Project(files), "3.11.7") == excluding
