"""Helpers for the capture tests: small real projects written to ``tmp_path``, run for real."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path

import pytest

from tracefix.capture.runner import Capture
from tracefix.capture.runner import run_captured

PYTHON = sys.executable
BIN_DIR = Path(sys.executable).parent

FLASK_SQLALCHEMY_APP = """\
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
"""

Run = Callable[..., Capture]


def write(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without anything that would leak the outer pytest into the child."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "TRACEFIX_")) and k != "PYTHONPATH"
    }
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def run(project: Path) -> Run:
    """Run a command in ``project`` with capture, quietly, and return the ``Capture``."""

    def run_in_project(*argv: str, **kwargs: object) -> Capture:
        kwargs.setdefault("env", clean_env())
        kwargs.setdefault("stream", False)
        kwargs.setdefault("timeout", 120)
        return run_captured(list(argv), cwd=project, project_root=project, **kwargs)  # type: ignore[arg-type]

    return run_in_project
