"""Committing a verified fix on a new branch leaves the user's checkout exactly as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tracefix.deliver.branch import commit_on_new_branch
from tracefix.deliver.branch import default_branch_name
from tracefix.errors import DeliveryError
from tracefix.git import git
from tracefix.patch import FileChange

SEED = "from app import db\ndb.session.commit()\n"
FIXED = (
    "from app import create_app, db\nwith create_app().app_context():\n    db.session.commit()\n"
)
CHANGES = [
    FileChange("scripts/seed.py", SEED, FIXED),
    FileChange("scripts/helpers.py", None, "HELPER = 1\n"),
]


def out(root: Path, *args: str) -> str:
    return git(*args, cwd=root).stdout.strip()


def checkout_state(root: Path) -> dict[str, object]:
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    return {
        "files": files,
        "index": hashlib.sha256((root / ".git" / "index").read_bytes()).hexdigest(),
        "status": out(root, "status", "--porcelain", "--untracked-files=all"),
        "head": out(root, "rev-parse", "HEAD"),
        "branch": out(root, "symbolic-ref", "--short", "HEAD"),
    }


@pytest.fixture
def repo(make_repo):
    root = make_repo({"scripts/seed.py": SEED, "run.sh": "echo run\n", "app.py": "x = 1\n"})
    (root / "run.sh").chmod(0o755)
    git("add", "run.sh", cwd=root)
    git("commit", "-q", "-m", "executable", cwd=root)
    git("checkout", "-q", "-b", "feature", cwd=root)
    (root / "app.py").write_text("x = 'unstaged work'\n")
    (root / "notes.txt").write_text("untracked work\n")
    (root / "run.sh").write_text("echo staged\n")
    git("add", "run.sh", cwd=root)
    return root


def test_branch_holds_exactly_the_fix_on_top_of_head(repo):
    before = checkout_state(repo)
    sha = commit_on_new_branch(repo, CHANGES, "tracefix/ctx101-abcdef12", "Push an app context\n")

    assert out(repo, "rev-parse", "refs/heads/tracefix/ctx101-abcdef12") == sha
    assert out(repo, "rev-parse", f"{sha}^") == before["head"]
    assert out(repo, "diff", "--name-status", before["head"], sha).splitlines() == [
        "A\tscripts/helpers.py",
        "M\tscripts/seed.py",
    ]
    assert git("show", f"{sha}:scripts/seed.py", cwd=repo).stdout == FIXED
    assert git("show", f"{sha}:scripts/helpers.py", cwd=repo).stdout == "HELPER = 1\n"
    assert out(repo, "log", "-1", "--format=%B", sha) == "Push an app context"
    assert "100755 " in out(repo, "ls-tree", sha, "run.sh")
    assert out(repo, "diff", before["head"], sha, "--", "run.sh", "app.py") == ""
    assert checkout_state(repo) == before


def test_a_file_that_differs_from_head_is_refused(repo):
    stale = FileChange("app.py", "x = 'unstaged work'\n", "x = 2\n")
    with pytest.raises(DeliveryError, match="app.py differs from HEAD"):
        commit_on_new_branch(repo, [stale], "tracefix/stale", "m")
    assert git(
        "show-ref", "--verify", "refs/heads/tracefix/stale", cwd=repo, check=False
    ).returncode


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("feature", "is your current branch", id="current branch"),
        pytest.param("main", "is the default branch", id="main"),
        pytest.param("master", "is the default branch", id="master"),
        pytest.param("bad..name", "is not a valid branch name", id="invalid: double dot"),
        pytest.param("-x", "is not a valid branch name", id="invalid: option-like"),
        pytest.param("with space", "is not a valid branch name", id="invalid: space"),
    ],
)
def test_refused_branch_names(repo, name, reason):
    before = checkout_state(repo)
    refs = out(repo, "show-ref")
    with pytest.raises(DeliveryError, match=reason):
        commit_on_new_branch(repo, CHANGES, name, "m")
    assert out(repo, "show-ref") == refs
    assert checkout_state(repo) == before


def test_existing_branch_is_refused_and_left_alone(repo):
    git("branch", "tracefix/taken", "main", cwd=repo)
    taken = out(repo, "rev-parse", "tracefix/taken")
    with pytest.raises(DeliveryError, match="branch tracefix/taken already exists"):
        commit_on_new_branch(repo, CHANGES, "tracefix/taken", "m")
    assert out(repo, "rev-parse", "tracefix/taken") == taken


def test_origin_head_names_the_default_branch(repo):
    git("branch", "trunk", cwd=repo)
    git("update-ref", "refs/remotes/origin/trunk", "HEAD", cwd=repo)
    git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk", cwd=repo)
    git("branch", "-q", "-D", "trunk", cwd=repo)
    with pytest.raises(DeliveryError, match="trunk is the default branch"):
        commit_on_new_branch(repo, CHANGES, "trunk", "m")


def test_default_branch_name():
    assert default_branch_name("CTX101", "0123456789abcdef") == "tracefix/ctx101-01234567"
