"""CTX110 end to end: `tracefix run` on `flask routes` failing at the import of the app's models."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(__file__).resolve().parents[2] / "src/tracefix/recipes/import_time_use/cases"


def copy_case(case: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "project"
    shutil.copytree(
        case / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    return repo, shlex.split((case / "command.txt").read_text())


def test_create_all_moves_into_the_factory_and_verifies(tmp_path):
    case = CASES / "create_all_in_models_factory_package"
    repo, command = copy_case(case, tmp_path)

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX110"
    assert doc["diagnosis"]["location"] == {"path": "app/models.py", "line": 11, "column": 0}
    assert doc["verification"]["verified"]
    expected = read_tree(case / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text


def test_a_query_in_a_form_class_is_explained_without_a_patch(tmp_path):
    repo, command = copy_case(CASES / "noop_query_in_form_class_body", tmp_path)
    before = read_tree(repo)

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 17, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX110"
    assert "class `PostForm`" in doc["diagnosis"]["explanation"]
    assert doc["fix"] is None
    assert read_tree(repo) == before
