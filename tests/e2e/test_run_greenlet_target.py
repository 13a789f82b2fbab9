"""CTX115 end to end: `tracefix run` on a greenlet's failure finds, fixes and verifies it.

A greenlet's exception is only printed unless something joins it; each case's code joins its
greenlets (``gevent.joinall(..., raise_error=True)``, ``GreenThread.wait()``), as code that
fans work out to greenlets does.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

import tracefix.recipes.greenlet_target as recipe_package
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(recipe_package.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("gevent_view_fan_out_factory", id="gevent in a view: the real app passed"),
        pytest.param("eventlet_script_module_app", id="eventlet: the module's app"),
    ],
)
def test_greenlet_target_is_fixed_and_verified(case, tmp_path):
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
    assert doc["diagnosis"]["code"] == "CTX115"
    assert doc["verification"]["verified"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
