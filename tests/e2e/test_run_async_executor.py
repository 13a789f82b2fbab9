"""CTX117 end to end: `tracefix run` on an async view's `run_in_executor` failure."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

import tracefix.recipes.async_executor as recipe_package
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(recipe_package.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("default_executor_module_app", id="default executor: asyncio.to_thread"),
        pytest.param("own_executor_blueprint_factory", id="own executor: copy_context().run"),
    ],
)
def test_executor_call_is_fixed_and_verified(case, tmp_path):
    case_dir = CASES / case
    repo = tmp_path / "project"
    shutil.copytree(
        case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((case_dir / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX117"
    assert doc["verification"]["verified"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text


def test_gathered_calls_are_a_known_cause_without_a_patch(tmp_path):
    case_dir = CASES / "skip_gathered_executor_calls"
    repo = tmp_path / "project"
    shutil.copytree(case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__"))
    commit_tree(repo)
    command = shlex.split((case_dir / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--", *command)

    assert outcome.returncode == 17, outcome.stdout + outcome.stderr
    assert "side by side" in outcome.stdout + outcome.stderr
