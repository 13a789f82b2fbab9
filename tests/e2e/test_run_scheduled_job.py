"""CTX113 end to end: `tracefix run` on a job's failure finds, fixes and verifies it.

A scheduler only logs its jobs' exceptions, so each case's command runs the jobs the way the
scheduler does and raises what they raised (see the cases' ``run_jobs_once.py``).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

import tracefix.recipes.scheduled_job as recipe_package
from tracefix.testing import read_tree

from .conftest import commit_tree
from .conftest import tracefix

CASES = Path(recipe_package.__file__).parent / "cases"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("flask_apscheduler_task_factory", id="Flask-APScheduler: scheduler.app"),
        pytest.param("schedule_worker_src_layout", id="schedule: the worker's app passed"),
        pytest.param("job_shared_with_view_wrapper", id="job a view calls: a wrapper registered"),
    ],
)
def test_scheduled_job_is_fixed_and_verified(case, tmp_path):
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
    assert doc["diagnosis"]["code"] == "CTX113"
    assert doc["verification"]["verified"]
    expected = read_tree(case_dir / "expected")
    assert sorted(doc["fix"]["files"]) == sorted(expected)
    for path, text in expected.items():
        assert (repo / path).read_text() == text


def test_skipped_job_is_a_known_cause_without_a_patch(tmp_path):
    case_dir = CASES / "skip_decorated_job_factory_project"
    repo = tmp_path / "project"
    shutil.copytree(
        case_dir / "project", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    commit_tree(repo)
    before = read_tree(repo)

    outcome = tracefix(
        repo, "run", "--json", "--", *shlex.split((case_dir / "command.txt").read_text())
    )

    assert outcome.returncode == 17, outcome.stdout + outcome.stderr
    assert "by a decorator" in outcome.stdout + outcome.stderr
    assert read_tree(repo) == before
