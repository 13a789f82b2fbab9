"""Fixtures of the scan's tests: projects as real files, and ``tracefix scan`` as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracefix.git import git

APP_PACKAGE = {
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app(test_config=None):
            app = Flask(__name__)
            app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite://")
            if test_config is not None:
                app.config.from_mapping(test_config)
            db.init_app(app)
            return app
        """,
    "app/models.py": """\
        from app import db


        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            name = db.Column(db.String(80))
        """,
    "wsgi.py": """\
        from app import create_app

        app = create_app()
        """,
}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


ScanCommand = Callable[..., Run]
MakeProject = Callable[..., Path]


def run_scan(cwd: Path, *args: str) -> Run:
    """``tracefix scan ARGS`` in ``cwd``, as a user runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACEFIX_")}
    completed = subprocess.run(
        [sys.executable, "-m", "tracefix", "scan", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def tracefix_scan() -> ScanCommand:
    return run_scan


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """A project in ``tmp_path/name`` with ``app/``, ``wsgi.py`` and ``files`` (dedented);
    a git work tree unless ``git=False``."""

    def make(
        files: Mapping[str, str] | None = None, *, name: str = "project", use_git: bool = True
    ) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True)
        if use_git:
            git("init", "--quiet", "--initial-branch=main", cwd=root)
        write(root, {**APP_PACKAGE, **(files or {})})
        return root

    return make


def write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
