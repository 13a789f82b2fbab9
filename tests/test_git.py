"""``tracefix.git``: the edge that reads a work tree into a ``Project``."""

from __future__ import annotations

from tracefix.git import read_project


def test_a_virtualenv_git_does_not_ignore_is_not_read(make_repo):
    """Lemur's ``.gitignore`` does not name its ``.venv``: ``tracefix run`` read its 12,500
    files into the project, and a recipe walking them took two and a half minutes."""
    root = make_repo({"app.py": "x = 1\n", "tests/test_app.py": "def test(): pass\n"})
    for venv in (".venv", "env3"):
        module = root / venv / "lib" / "python3.11" / "site-packages" / "flask" / "app.py"
        module.parent.mkdir(parents=True)
        module.write_text("class Flask: pass\n")
    (root / "build" / "lib").mkdir(parents=True)
    (root / "build" / "lib" / "app.py").write_text("x = 1\n")
    (root / "scripts").mkdir()
    (root / "scripts" / "seed.py").write_text("y = 2\n")
    assert sorted(read_project(root).files) == ["app.py", "scripts/seed.py", "tests/test_app.py"]
