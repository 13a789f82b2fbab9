"""`make demo`: run tracefix on a copy of examples/seed-app and show the verified fix.

The example is copied into a fresh git repository in a temporary directory, so the files in
examples/ never change; the copy is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "seed-app"
COMMAND = ["python", "-m", "scripts.seed_db"]


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=tracefix demo", "-c", "user.email=demo@tracefix.invalid", *args],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tracefix-demo-") as tmp:
        repo = Path(tmp) / "seed-app"
        shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", "instance"))
        git("init", "-q", "-b", "main", cwd=repo)
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "seed-app", cwd=repo)
        print(f"$ cd {repo}\n$ tracefix run -- python -m scripts.seed_db\n", flush=True)
        # `python` and `tracefix` are this virtualenv's, as in a shell where it is activated.
        bin_dir = str(Path(sys.executable).parent)
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        return subprocess.run(["tracefix", "run", "--", *COMMAND], cwd=repo, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
