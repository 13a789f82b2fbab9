"""CTX111 end to end: `tracefix run` on a script whose models made a second `SQLAlchemy()`."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(__file__).resolve().parents[2] / "src/tracefix/recipes/extension_not_registered/cases"


def copy_case(case: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "project"
    shutil.copytree(
        case / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    return repo, shlex.split((case / "command.txt").read_text())


def test_the_second_instance_imports_the_registered_one_and_verifies(tmp_path):
    case = CASES / "second_instance_in_models"
    repo, command = copy_case(case, tmp_path)

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX111"
    assert doc["diagnosis"]["facts"]["kind"] == "second_instance"
    assert doc["verification"]["verified"]
    expected = read_tree(case / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text


def test_a_test_on_a_bare_app_is_explained_without_a_patch(tmp_path):
    repo, command = copy_case(CASES / "noop_bare_app_in_test", tmp_path)
    before = read_tree(repo)

    outcome = tracefix(repo, "run", "--json", "--", *command)

    assert outcome.returncode == 17, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["facts"]["kind"] == "other_app"
    assert read_tree(repo) == before
