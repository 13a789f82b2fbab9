"""recipes/_imports.py: a fix's imports where isort would put them, in the file's own style."""

from __future__ import annotations

import libcst as cst
import pytest

from tracefix.recipes._imports import add_imports_in_file_style


@pytest.mark.parametrize(
    ("before", "statement", "after"),
    [
        pytest.param(
            "import os\nfrom concurrent.futures import ThreadPoolExecutor\n\nimport click\n",
            "import functools",
            "import functools\nimport os\nfrom concurrent.futures import ThreadPoolExecutor\n"
            "\nimport click\n",
            id="standard library section, sorted",
        ),
        pytest.param(
            "import click\nfrom flask.cli import with_appcontext\n\nfrom shop import db\n",
            "from flask import current_app",
            "import click\nfrom flask import current_app\nfrom flask.cli import with_appcontext"
            "\n\nfrom shop import db\n",
            id="third-party section, sorted by module",
        ),
        pytest.param(
            "from flask import Flask\nfrom flask import request\n\nfrom shop import db\n",
            "from flask import current_app",
            "from flask import Flask\nfrom flask import current_app\nfrom flask import request"
            "\n\nfrom shop import db\n",
            id="one name per line, isort's order by type: classes before functions",
        ),
        pytest.param(
            "from flask import current_app\nfrom flask import Flask\n\nfrom shop import db\n",
            "from flask import Blueprint",
            "from flask import Blueprint\nfrom flask import current_app\nfrom flask import Flask"
            "\n\nfrom shop import db\n",
            id="one name per line, the file's plain order",
        ),
    ],
)
def test_an_import_goes_where_isort_would_put_it(before: str, statement: str, after: str) -> None:
    module = cst.parse_module(before)
    placed = add_imports_in_file_style(
        module, [statement], before=len(module.body), is_first_party=lambda top: top == "shop"
    )
    assert placed.code == after
