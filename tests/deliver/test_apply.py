"""Writing a verified fix into the work tree: atomic, all or nothing, never over newer edits."""

from __future__ import annotations

import stat

import pytest

from tracefix.deliver.apply import apply_changes
from tracefix.deliver.apply import dirty_paths
from tracefix.errors import DeliveryError
from tracefix.git import git
from tracefix.patch import FileChange

FILES = {
    "app.py": "x = 1\n",
    "scripts/seed.py": "print('seed')\n",
    "tools/run.py": "print('run')\n",
    "clean.py": "pass\n",
}


@pytest.fixture
def repo(make_repo):
    return make_repo(FILES)


def test_dirty_paths_names_staged_unstaged_and_untracked_files(repo):
    (repo / "app.py").write_text("x = 2\n")
    (repo / "scripts" / "seed.py").write_text("print('staged')\n")
    git("add", "scripts/seed.py", cwd=repo)
    (repo / "new.py").write_text("new\n")
    (repo / "tools" / "run.py").unlink()
    paths = ["clean.py", "app.py", "scripts/seed.py", "new.py", "tools/run.py", "absent.py"]
    assert dirty_paths(repo, paths) == ["app.py", "scripts/seed.py", "new.py", "tools/run.py"]
    assert dirty_paths(repo, ["clean.py"]) == []


def test_apply_writes_every_change_and_keeps_the_mode(repo):
    (repo / "scripts" / "seed.py").chmod(0o755)
    apply_changes(
        repo,
        [
            FileChange("scripts/seed.py", "print('seed')\n", "print('fixed')\n"),
            FileChange("app.py", "x = 1\n", "x = 2\n"),
            FileChange("pkg/new.py", None, "created = True\n"),
        ],
    )
    assert (repo / "scripts" / "seed.py").read_text() == "print('fixed')\n"
    assert stat.S_IMODE((repo / "scripts" / "seed.py").stat().st_mode) == 0o755
    assert (repo / "app.py").read_text() == "x = 2\n"
    assert (repo / "pkg" / "new.py").read_text() == "created = True\n"
    assert not list(repo.rglob(".tracefix-*"))


def test_apply_keeps_windows_line_endings(repo):
    (repo / "app.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    apply_changes(repo, [FileChange("app.py", "x = 1\ny = 2\n", "x = 1\ny = 3\n")])
    assert (repo / "app.py").read_bytes() == b"x = 1\r\ny = 3\r\n"


def test_apply_refuses_when_a_file_changed_and_writes_nothing(repo):
    (repo / "app.py").write_text("x = 'edited meanwhile'\n")
    with pytest.raises(DeliveryError, match="app.py changed since tracefix read it"):
        apply_changes(
            repo,
            [
                FileChange("scripts/seed.py", "print('seed')\n", "print('fixed')\n"),
                FileChange("app.py", "x = 1\n", "x = 2\n"),
            ],
        )
    assert (repo / "scripts" / "seed.py").read_text() == "print('seed')\n"
    assert (repo / "app.py").read_text() == "x = 'edited meanwhile'\n"


def test_apply_refuses_to_overwrite_a_file_it_meant_to_create(repo):
    with pytest.raises(DeliveryError, match="clean.py appeared"):
        apply_changes(repo, [FileChange("clean.py", None, "new\n")])
    assert (repo / "clean.py").read_text() == "pass\n"


def test_apply_refuses_paths_outside_the_repository(repo):
    with pytest.raises(DeliveryError, match="outside the repository"):
        apply_changes(repo, [FileChange("../escape.py", None, "x\n")])
    assert not (repo.parent / "escape.py").exists()


def test_a_failed_write_restores_what_was_already_written(repo):
    with pytest.raises(DeliveryError, match="cannot write"):
        apply_changes(
            repo,
            [
                FileChange("app.py", "x = 1\n", "x = 2\n"),
                FileChange("pkg/new.py", None, "created = True\n"),
                FileChange("clean.py/inside.py", None, "a file cannot be a folder\n"),
            ],
        )
    assert (repo / "app.py").read_text() == "x = 1\n"
    assert not (repo / "pkg" / "new.py").exists()
    assert git("status", "--porcelain", "--untracked-files=all", cwd=repo).stdout == ""
