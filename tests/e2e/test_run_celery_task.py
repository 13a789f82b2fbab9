"""CTX105 end to end: `tracefix run` on a Celery task run eagerly (by a test, by a script)
finds the cause, writes Flask's task class or the task's own context, and verifies it."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from tracefix.recipes import celery_task
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES_DIR = Path(celery_task.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case_name",
    [
        pytest.param("factory_package_celery_init_app", id="pytest test, celery_init_app hook"),
        pytest.param("module_celery_without_app", id="script, Celery made without the app"),
    ],
)
def test_celery_task_is_fixed_and_verified(case_name, tmp_path):
    case_dir = CASES_DIR / case_name
    repo = tmp_path / "project"
    shutil.copytree(
        case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((case_dir / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX105"
    assert doc["verification"]["verified"], doc["verification"]
    assert doc["verification"]["reproduced"]
    assert not doc["verification"]["leaks"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
