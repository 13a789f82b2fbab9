"""CTX107 end to end: `tracefix run` on `python manage.py CMD` with a plain Click command finds
the cause, pushes the context in the command (or adds `@with_appcontext` under a FlaskGroup),
and verifies it."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from tracefix.recipes import click_command
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES_DIR = Path(click_command.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case_name",
    [
        pytest.param("manage_py_click_group_factory", id="plain group, factory from wsgi.py"),
        pytest.param("flaskgroup_added_plain_command", id="plain command under a FlaskGroup"),
    ],
)
def test_click_command_is_fixed_and_verified(case_name, tmp_path):
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
    assert doc["diagnosis"]["code"] == "CTX107"
    assert doc["verification"]["verified"], doc["verification"]
    assert doc["verification"]["reproduced"]
    assert not doc["verification"]["leaks"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text
