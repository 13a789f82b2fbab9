"""`tracefix run` on the seed's app: the verified fix, shown, applied, or committed on a branch."""

from __future__ import annotations

import subprocess

from .conftest import environment
from .conftest import git
from .conftest import snapshot
from .conftest import tracefix

SEED = ("--", "python", "-m", "scripts.seed_db")


def test_shows_the_verified_fix_and_changes_nothing(seed_repo):
    before = snapshot(seed_repo)
    outcome = tracefix(seed_repo, "run", *SEED)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "Working outside of application context" in outcome.stdout + outcome.stderr
    assert "CTX101" in outcome.stdout
    assert "scripts/seed_db.py:5" in outcome.stdout
    assert "+with app.app_context():" in outcome.stdout
    assert "Verified fix" in outcome.stdout
    assert snapshot(seed_repo) == before
    assert git(seed_repo, "status", "--porcelain") == ""
    assert git(seed_repo, "worktree", "list").count("\n") == 1


def test_a_test_command_that_fails_without_the_fix_is_shown_to_check_nothing(seed_repo):
    outcome = tracefix(seed_repo, "run", "--test-cmd", "python -m no_such_runner", *SEED)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    (line,) = [line for line in outcome.stdout.splitlines() if "tests before" in line]
    assert line.startswith("  - tests before: exit 1; after: exit 1 (`")
    assert line.endswith(
        "-m no_such_runner`, judged by its exit code), which fails without the fix, so it cannot "
        "tell what the fix breaks (--test-cmd)"
    )


def test_a_context_error_the_command_caught_itself_is_pointed_out(seed_repo):
    """microblog's RQ task: it catches the error, logs it, and the command exits 0."""
    (seed_repo / "scripts/logged.py").write_text(
        "import logging\n\nfrom app import db\n\ntry:\n    db.session.commit()\n"
        "except RuntimeError:\n    logging.exception('task failed')\n"
    )
    outcome = tracefix(seed_repo, "run", "--", "python", "-m", "scripts.logged")
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "Working outside of application context" in outcome.stderr
    assert "passed: nothing to fix." in outcome.stdout
    assert "shows a Flask context error that it caught itself" in outcome.stdout


def test_json_is_one_document_with_the_whole_result(seed_repo):
    outcome = tracefix(seed_repo, "run", "--json", *SEED)
    assert outcome.returncode == 0, outcome.stderr
    doc = outcome.json()
    assert doc["status"] == "verified"
    assert doc["diagnosis"]["code"] == "CTX101"
    assert doc["diagnosis"]["location"] == {"path": "scripts/seed_db.py", "line": 5, "column": 0}
    assert doc["event"]["exception"]["values"][-1]["type"] == "RuntimeError"
    assert doc["fix"]["files"] == ["scripts/seed_db.py"]
    verification = doc["verification"]
    assert verification["reproduced"] and verification["verified"]
    assert verification["after_returncode"] == 0
    assert set(verification["tests_before"]["outcomes"].values()) == {"passed"}
    assert verification["tests_after"]["outcomes"] == verification["tests_before"]["outcomes"]
    # The command's own traceback went to stderr, not into the document.
    assert "Traceback" in outcome.stderr


def test_apply_writes_the_fix_and_the_command_then_passes(seed_repo):
    outcome = tracefix(seed_repo, "run", "--apply", *SEED)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "with app.app_context():" in (seed_repo / "scripts/seed_db.py").read_text()
    assert git(seed_repo, "status", "--porcelain").strip() == "M scripts/seed_db.py"
    rerun = subprocess.run(
        ["python", "-m", "scripts.seed_db"],
        cwd=seed_repo,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr


def test_branch_commits_on_a_new_branch_and_leaves_the_checkout(seed_repo):
    head = git(seed_repo, "rev-parse", "HEAD").strip()
    before = snapshot(seed_repo)
    outcome = tracefix(seed_repo, "run", "--json", "--branch", *SEED)
    assert outcome.returncode == 0, outcome.stderr
    branch = outcome.json()["delivery"]["branch"]
    assert branch.startswith("tracefix/ctx101-")
    assert git(seed_repo, "rev-parse", "HEAD").strip() == head
    assert git(seed_repo, "branch", "--show-current").strip() == "main"
    assert snapshot(seed_repo) == before
    assert git(seed_repo, "rev-parse", f"{branch}~1").strip() == head
    changed = git(seed_repo, "diff", "--name-only", head, branch).split()
    assert changed == ["scripts/seed_db.py"]
    assert "app.app_context()" in git(seed_repo, "show", f"{branch}:scripts/seed_db.py")


def test_branch_with_a_name_and_never_the_current_branch(seed_repo):
    outcome = tracefix(seed_repo, "run", "--branch", "fix/seed-context", *SEED)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "fix/seed-context" in git(seed_repo, "branch", "--list", "fix/seed-context")
    refused = tracefix(seed_repo, "run", "--branch", "main", *SEED)
    assert refused.returncode == 18
    assert "main" in refused.stdout
