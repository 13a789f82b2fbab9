"""CTX114 end to end: `tracefix run` on an atexit callback's and a signal handler's failure.

An atexit callback's exception leaves the exit status at 0; tracefix sees it through
``sys.unraisablehook``. The signal case's command starts the worker and sends it SIGTERM.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

import tracefix.recipes.exit_handler as recipe_package
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(recipe_package.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("atexit_register_in_factory", id="atexit: the factory's app passed"),
        pytest.param("signal_handler_worker_module_app", id="SIGTERM handler: the module's app"),
    ],
)
def test_exit_handler_is_fixed_and_verified(case, tmp_path):
    case_dir = CASES / case
    repo = tmp_path / "project"
    shutil.copytree(
        case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((case_dir / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--no-tests", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX114"
    assert doc["verification"]["verified"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
