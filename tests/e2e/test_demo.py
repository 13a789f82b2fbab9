"""`make demo`: the whole loop on the bundled example ends with a fix delivered to the remote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).parents[2] / "examples" / "demo.py"


def test_the_demo_delivers_a_verified_fix_branch() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--no-wait"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the server's fix attempt: delivered" in done.stdout
    assert "Run the script's top-level code under `with app.app_context():`" in done.stdout
    assert "sign in as demo@tracefix.invalid" in done.stdout
