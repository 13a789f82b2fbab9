""".pre-commit-hooks.yaml: pre-commit runs each hook's entry with the staged files."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
HOOKS = Path(__file__).parents[2] / ".pre-commit-hooks.yaml"
SCRIPT = "from app import db\n\ndb.create_all()\n"


@pytest.mark.parametrize("hook", yaml.safe_load(HOOKS.read_text()), ids=lambda hook: hook["id"])
def test_each_hook_runs_tracefix_scan_on_the_files_it_is_given(hook, make_project):
    assert hook["language"] == "python" and hook["require_serial"] is True
    entry = shlex.split(hook["entry"])
    assert entry[:2] == ["tracefix", "scan"]
    root = make_project({"scripts/init_db.py": SCRIPT, "scripts/other.py": "x = 1\n"})
    command = [sys.executable, "-m", "tracefix", *entry[1:], "scripts/init_db.py"]
    completed = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    fixes = "--fix" in entry
    assert completed.returncode == (0 if fixes else 1), completed.stdout + completed.stderr
    assert ("with app.app_context():" in (root / "scripts/init_db.py").read_text()) is fixes
