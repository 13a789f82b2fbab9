"""CTX106 end to end: `tracefix run` on a view that fans work out to a thread pool."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASE = (
    Path(__file__).resolve().parents[2]
    / "src/tracefix/recipes/executor_task/cases/view_fanout_factory"
)


def test_pool_task_gets_the_running_app(tmp_path):
    repo = tmp_path / "project"
    shutil.copytree(
        CASE / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((CASE / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX106"
    assert doc["diagnosis"]["location"] == {"path": "dashboard/stats.py", "line": 12, "column": 0}
    assert doc["verification"]["verified"]
    expected = read_tree(CASE / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
