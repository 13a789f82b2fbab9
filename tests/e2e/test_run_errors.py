"""Every dead end of `tracefix run`: a one-line message, a documented exit code, no traceback of
ours, and the user's files exactly as they were."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import tracefix as tracefix_package

from .conftest import environment
from .conftest import git
from .conftest import snapshot
from .conftest import tracefix
from .conftest import write_files

SEED = ("--", "python", "-m", "scripts.seed_db")
TRACEFIX_SOURCE = os.path.dirname(tracefix_package.__file__)


def assert_clean_error(outcome, exit_code: int, words: str) -> None:
    assert outcome.returncode == exit_code, outcome.stdout + outcome.stderr
    report = outcome.stdout + outcome.stderr
    errors = [line for line in report.splitlines() if line.startswith("tracefix: error:")]
    assert len(errors) == 1, report
    assert words in errors[0]
    assert TRACEFIX_SOURCE not in report, "a traceback from tracefix's own code"


def test_not_a_git_repository(tmp_path):
    write_files(
        tmp_path, {"script.py": "raise RuntimeError('Working outside of application context.')\n"}
    )
    outcome = tracefix(tmp_path, "run", "--", "python", "script.py")
    assert_clean_error(outcome, 10, "not inside a git repository")


def test_dirty_files_the_fix_would_touch(seed_repo):
    script = seed_repo / "scripts/seed_db.py"
    script.write_text(script.read_text() + "# local edit\n")
    before = snapshot(seed_repo)
    outcome = tracefix(seed_repo, "run", *SEED)
    assert_clean_error(outcome, 11, "scripts/seed_db.py")
    assert snapshot(seed_repo) == before


def test_command_not_found(seed_repo):
    outcome = tracefix(seed_repo, "run", "--", "no-such-command-tracefix")
    assert_clean_error(outcome, 12, "command not found: no-such-command-tracefix")


def test_command_that_passes_has_nothing_to_fix(seed_repo):
    outcome = tracefix(seed_repo, "run", "--", "python", "-c", "print('all good')")
    assert outcome.returncode == 0
    assert "all good" in outcome.stdout
    assert "nothing to fix" in outcome.stdout


def test_an_error_that_is_not_a_known_cause(seed_repo):
    write_files(seed_repo, {"scripts/report.py": "settings = {}\nprint(settings['missing'])\n"})
    commit_tree_changes(seed_repo)
    outcome = tracefix(seed_repo, "run", "--", "python", "scripts/report.py")
    assert_clean_error(outcome, 13, "KeyError")
    assert "@@" not in outcome.stdout


def test_a_syntax_error_in_the_users_code(seed_repo):
    write_files(seed_repo, {"scripts/broken.py": "def f(:\n    pass\n"})
    commit_tree_changes(seed_repo)
    outcome = tracefix(seed_repo, "run", "--", "python", "scripts/broken.py")
    assert_clean_error(outcome, 14, "syntax error")


def test_a_worktree_that_cannot_be_created(seed_repo):
    # git keeps a worktree's admin files in .git/worktrees/: a plain file there blocks it.
    (seed_repo / ".git" / "worktrees").write_text("in the way\n")
    before = snapshot(seed_repo)
    outcome = tracefix(seed_repo, "run", *SEED)
    assert_clean_error(outcome, 15, "worktree")
    assert snapshot(seed_repo) == before


def test_a_failure_that_does_not_reproduce(seed_repo, tmp_path):
    marker = tmp_path / "ran-once"
    write_files(
        seed_repo,
        {
            "scripts/once.py": (
                "import os\n"
                "from app import db\n"
                "marker = os.environ['TRACEFIX_TEST_MARKER']\n"
                "if not os.path.exists(marker):\n"
                "    open(marker, 'w').close()\n"
                "    db.session.execute(db.text('select 1'))\n"
            )
        },
    )
    commit_tree_changes(seed_repo)
    os.environ["TRACEFIX_TEST_MARKER"] = str(marker)
    try:
        outcome = tracefix(seed_repo, "run", "--", "python", "-m", "scripts.once")
    finally:
        del os.environ["TRACEFIX_TEST_MARKER"]
    assert_clean_error(outcome, 16, "did not happen again")


def test_a_candidate_that_does_not_verify_is_not_shown_as_a_fix(seed_repo):
    write_files(
        seed_repo,
        {
            "scripts/seed_strict.py": (
                "from app import db\n"
                "from app.models import User\n"
                "db.session.add(User(name='Admin'))\n"
                "db.session.commit()\n"
                "raise SystemExit('seeding also needs SEED_PASSWORD')\n"
            )
        },
    )
    commit_tree_changes(seed_repo)
    before = snapshot(seed_repo)
    outcome = tracefix(seed_repo, "run", "--", "python", "-m", "scripts.seed_strict")
    assert_clean_error(outcome, 1, "did not verify")
    assert "unverified candidate" in outcome.stdout
    assert "Verified fix" not in outcome.stdout
    assert snapshot(seed_repo) == before


def test_apply_of_an_unverified_candidate_writes_nothing(seed_repo):
    write_files(
        seed_repo,
        {
            "scripts/seed_strict.py": (
                "from app import db\ndb.session.execute(db.text('select 1'))\nraise SystemExit(3)\n"
            )
        },
    )
    commit_tree_changes(seed_repo)
    before = snapshot(seed_repo)
    outcome = tracefix(
        seed_repo, "run", "--apply", "--branch", "--", "python", "-m", "scripts.seed_strict"
    )
    assert outcome.returncode == 1
    assert snapshot(seed_repo) == before
    assert git(seed_repo, "branch", "--list", "tracefix/*") == ""


def test_ctrl_c_removes_the_worktree_and_changes_nothing(seed_repo):
    write_files(
        seed_repo,
        {
            "scripts/slow_seed.py": (
                "import os, time\n"
                "from app import db\n"
                "if os.path.isfile('.git'):  # a linked worktree: tracefix is verifying\n"
                "    time.sleep(30)\n"
                "db.session.execute(db.text('select 1'))\n"
            )
        },
    )
    commit_tree_changes(seed_repo)
    before = snapshot(seed_repo)
    process = subprocess.Popen(
        [sys.executable, "-m", "tracefix", "run", "--", "python", "-m", "scripts.slow_seed"],
        cwd=seed_repo,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (seed_repo / ".git" / "worktrees").is_dir():
        time.sleep(0.05)
    assert (seed_repo / ".git" / "worktrees").is_dir(), "the worktree never appeared"
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in stderr
    assert TRACEFIX_SOURCE not in stderr
    assert git(seed_repo, "worktree", "list").count("\n") == 1
    assert snapshot(seed_repo) == before


def commit_tree_changes(repo):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")


def test_a_known_cause_with_no_safe_fix(tmp_path):
    write_files(tmp_path, {"job.py": "from flask import current_app\nprint(current_app.name)\n"})
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "job")
    before = snapshot(tmp_path)
    outcome = tracefix(tmp_path, "run", "--", "python", "job.py")
    assert_clean_error(outcome, 17, "no safe fix applies")
    assert "@@" not in outcome.stdout
    assert snapshot(tmp_path) == before
