"""CTX109 end to end: `tracefix run` on a view whose streamed CSV reads the request too late."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASE = (
    Path(__file__).resolve().parents[2]
    / "src/tracefix/recipes/streamed_response/cases/nested_generator_factory"
)


def test_streamed_generator_is_wrapped_in_stream_with_context(tmp_path):
    repo = tmp_path / "project"
    shutil.copytree(
        CASE / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    command = shlex.split((CASE / "command.txt").read_text())

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX109"
    assert doc["diagnosis"]["location"] == {"path": "orders/export.py", "line": 19, "column": 0}
    assert doc["verification"]["verified"]
    expected = read_tree(CASE / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
