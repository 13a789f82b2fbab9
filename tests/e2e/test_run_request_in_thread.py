"""CTX108 end to end: `tracefix run` on a sign-in whose background audit reads the request."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASE = (
    Path(__file__).resolve().parents[2]
    / "src/tracefix/recipes/request_in_thread/cases/login_audit_thread_factory"
)


def test_thread_gets_the_values_read_in_the_view(tmp_path):
    repo = tmp_path / "project"
    shutil.copytree(
        CASE / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((CASE / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX108"
    assert doc["diagnosis"]["facts"]["starts"] == [
        {"path": "accounts/auth.py", "line": 22, "kind": "thread"}
    ]
    assert doc["verification"]["verified"]
    expected = read_tree(CASE / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
