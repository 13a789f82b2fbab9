"""End-to-end helpers: real git repositories in tmp_path, `tracefix run` as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GIT_IDENTITY = ["-c", "user.name=tracefix tests", "-c", "user.email=tests@tracefix.invalid"]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def commit_tree(repo: Path) -> Path:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def environment() -> dict[str, str]:
    """PATH starts with this interpreter's bin, so `python`, `pytest`, `flask` are the venv's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PYTEST_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def tracefix(repo: Path, *args: str, timeout: float = 180) -> Outcome:
    result = subprocess.run(
        [sys.executable, "-m", "tracefix", *args],
        cwd=repo,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Outcome(result.returncode, result.stdout, result.stderr)


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every file of the work tree but .git and caches: to prove tracefix changed nothing."""
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts and "__pycache__" not in p.parts
    }


@pytest.fixture
def seed_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "seed-app"
    shutil.copytree(
        EXAMPLES / "seed-app", repo, ignore=shutil.ignore_patterns("__pycache__", "instance")
    )
    return commit_tree(repo)


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
