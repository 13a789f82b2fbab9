"""CTX116 end to end: `tracefix run` on a child process's failure finds, fixes and verifies it.

A ``Process``'s traceback is printed by the child and read back from stderr; a pool's comes
back to the parent as the text of a ``RemoteTraceback``.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

import tracefix.recipes.process_target as recipe_package
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(recipe_package.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("spawn_process_factory", id="spawned Process: the factory's app made there"),
        pytest.param("pool_map_module_app", id="Pool.map: the module's app"),
    ],
)
def test_process_target_is_fixed_and_verified(case, tmp_path):
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
    assert doc["diagnosis"]["code"] == "CTX116"
    assert doc["verification"]["verified"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
