"""Each recipe end to end: `tracefix run` on its first fix case finds, fixes and verifies it."""

from __future__ import annotations

import shlex
import shutil
import sys

import pytest

from tracefix.recipes import RECIPES
from tracefix.recipes import recipe_by_code
from tracefix.recipes import test_without_context
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
#: Other ways into a recipe, run end to end too: CTX104 for a ``unittest`` suite, and for a
#: fixture that keeps a context it no longer pushes (failing in another fixture's set-up).
CASES += [
    pytest.param(
        recipe_by_code("CTX104").__class__,
        next(c for c in case_dirs(test_without_context.__file__ or "") if c.name.startswith(start)),
        id=f"CTX104-{start.rstrip('_')}",
    )
    for start in ("unittest", "fixture_keeps_")
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


def test_a_suite_that_fails_without_the_fix_and_passes_with_it_is_a_check(tmp_path):
    """The unittest case's suite, judged by its exit code (``--test-cmd``): it fails before the
    fix, as the command does, and passes after."""
    case_dir = next(c for c in CASES if c.id == "CTX104-unittest").values[1]
    repo = tmp_path / "project"
    shutil.copytree(case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__"))
    commit_tree(repo)
    command = shlex.split((case_dir / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--test-cmd", shlex.join(command), "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    (line,) = [line for line in outcome.stdout.splitlines() if "tests before" in line]
    assert line.startswith("  ✓ tests before: exit 1; after: exit 0 (`")
    assert line.endswith("judged by its exit code): they fail without the fix and pass with it")
