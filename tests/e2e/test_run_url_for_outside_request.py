"""CTX112 end to end: `tracefix run` on a script that builds URLs in an app context."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(__file__).resolve().parents[2] / "src/tracefix/recipes/url_for_outside_request/cases"


def copy_case(case: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "project"
    shutil.copytree(
        case / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    return repo, shlex.split((case / "command.txt").read_text())


def test_the_scripts_context_becomes_a_test_request_context_and_verifies(tmp_path):
    case = CASES / "swap_render_template_in_script"
    repo, command = copy_case(case, tmp_path)

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX112"
    assert doc["diagnosis"]["location"]["path"] == "app/templates/email/welcome.txt"
    assert doc["verification"]["verified"]
    expected = read_tree(case / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text


def test_absolute_urls_get_no_invented_host(tmp_path):
    repo, command = copy_case(CASES / "noop_external_urls_in_script", tmp_path)
    before = read_tree(repo)

    outcome = tracefix(repo, "run", "--json", "--apply", "--", *command)

    assert outcome.returncode == 17, outcome.stdout + outcome.stderr
    doc = outcome.json()
    assert doc["diagnosis"]["code"] == "CTX112"
    assert "SERVER_NAME" in doc["error"]["message"]
    assert read_tree(repo) == before
