"""The user's tests run with the interpreter of the user's command, found the way a shell would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tracefix.pipeline import python_for


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_python_command_names_its_interpreter(bin_dir):
    python = executable(bin_dir / "python3.11", "#!/bin/sh\n")
    assert python_for(["python3.11", "-m", "scripts.seed_db"]) == str(python)


def test_a_console_script_names_it_in_its_shebang(bin_dir):
    executable(bin_dir / "pytest", f"#!{sys.executable}\nimport pytest\n")
    assert python_for(["pytest", "tests"]) == sys.executable


def test_an_env_shebang_is_resolved_on_path(bin_dir):
    python = executable(bin_dir / "python3", "#!/bin/sh\n")
    executable(bin_dir / "flask", "#!/usr/bin/env python3\nimport flask\n")
    assert python_for(["flask", "seed"]) == str(python)


def test_anything_else_falls_back_to_python_on_path(bin_dir):
    python = executable(bin_dir / "python3", "#!/bin/sh\n")
    executable(bin_dir / "run.sh", "#!/bin/sh\nexec python3 app.py\n")
    assert python_for(["run.sh"]) == str(python)
