"""The scan's own path stays on ``ast``: LibCST (a fifth of a second to import) loads only for
``--fix`` (and for a detector that found its cause and plans the fix). Checked for the scan's
modules and every recipe, in a process where importing LibCST fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CASE = (
    Path(__file__).parents[2]
    / "src/tracefix/recipes/script_module_level/cases/seed_factory/project"
)

PROGRAM = textwrap.dedent(
    """
    import sys

    sys.modules["libcst"] = None  # any import of LibCST now raises ImportError

    from tracefix.scan import config, context_use, engine, files, formats, suppressions
    from tracefix.recipes import all_recipes
    from tracefix.testing import read_tree
    from tracefix.diagnose.project import Project

    project = Project(read_tree(__import__("pathlib").Path(sys.argv[1])))
    result = engine.scan(project, list(project.python_files()), all_recipes())
    print(sorted(f.code for f in result.findings), sys.modules["libcst"] is not None)
    """
)


def test_scanning_never_imports_libcst():
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(CASE)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "['CTX101'] False"
