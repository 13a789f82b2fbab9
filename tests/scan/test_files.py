"""Which files a scan reads: git's ignores in a work tree, .gitignore files outside one."""

from __future__ import annotations

import pytest

from tracefix.scan.files import GitIgnore
from tracefix.scan.files import list_files

BROKEN = "def f(:\n"


@pytest.mark.parametrize("use_git", [True, False], ids=["git work tree", "plain folder"])
def test_ignored_and_default_excluded_files_are_not_read(make_project, use_git):
    root = make_project(
        {
            ".gitignore": "generated/\n*_local.py\n!keep_local.py\n",
            "generated/models.py": BROKEN,
            "app/settings_local.py": BROKEN,
            "app/keep_local.py": "x = 1\n",
            "pkg/.gitignore": "/only_here.py\n",
            "pkg/only_here.py": BROKEN,
            "pkg/sub/only_here.py": "x = 1\n",
            ".venv/lib/site.py": BROKEN,
            "node_modules/x.py": BROKEN,
            "README.md": "not python\n",
            "requirements.txt": "flask\n",
            "requirements/common.txt": "flask-sqlalchemy==2.5.1\n",
            "requirements/README.md": "not a requirements file\n",
        },
        use_git=use_git,
    )
    listed = list_files(root)
    assert "app/keep_local.py" in listed and "pkg/sub/only_here.py" in listed
    assert "requirements.txt" in listed and "README.md" not in listed
    assert "requirements/common.txt" in listed and "requirements/README.md" not in listed
    for path in ("generated/models.py", "app/settings_local.py", "pkg/only_here.py"):
        assert path not in listed
    assert not [path for path in listed if path.startswith((".venv/", "node_modules/"))]


def test_ignored_files_are_not_scanned(make_project, tracefix_scan):
    root = make_project({".gitignore": "generated/\n", "generated/models.py": BROKEN})
    assert tracefix_scan(root).code == 0


@pytest.mark.parametrize(
    ("pattern", "path", "ignored"),
    [
        ("*.py", "a/b/c.py", True),
        ("/top.py", "top.py", True),
        ("/top.py", "a/top.py", False),
        ("docs/*.py", "docs/conf.py", True),
        ("docs/*.py", "docs/api/conf.py", False),
        ("**/migrations", "app/db/migrations/env.py", True),
        ("legacy/**", "legacy/a/b.py", True),
        ("a/**/b.py", "a/x/y/b.py", True),
        ("a/**/b.py", "a/b.py", True),
        ("build/", "build", False),
        ("build/", "src/build/x.py", True),
        ("test_[ab].py", "test_a.py", True),
        ("test_[!ab].py", "test_a.py", False),
        ("scripts/seed_?.py", "scripts/seed_1.py", True),
    ],
)
def test_gitignore_patterns(pattern, path, ignored):
    assert GitIgnore([pattern]).ignores(path) is ignored


def test_a_later_negation_keeps_a_file():
    rules = GitIgnore(["*.py", "!keep.py"])
    assert not rules.ignores("keep.py") and rules.ignores("drop.py")
