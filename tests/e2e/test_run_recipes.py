"""Each recipe end to end: `tracefix run` on its first fix case finds, fixes and verifies it."""

from __future__ import annotations

import shlex
import shutil
import sys

import pytest

from tracefix.recipes import RECIPES
from tracefix.testing import case_dirs
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix


def first_fix_case(recipe_class):
    module_file = sys.modules[recipe_class.__module__].__file__ or ""
    return next((c for c in case_dirs(module_file) if (c / "expected").is_dir()), None)


CASES = [
    pytest.param(recipe_class, first_fix_case(recipe_class), id=recipe_class.code)
    for recipe_class in RECIPES
]


@pytest.mark.parametrize(("recipe_class", "case_dir"), CASES)
def test_recipe_end_to_end(recipe_class, case_dir, tmp_path):
    repo = tmp_path / "project"
    shutil.copytree(
        case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((case_dir / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == recipe_class.code
    assert doc["verification"]["verified"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
