"""The scan's own path stays on ``ast``: LibCST (a fifth of a second to import) loads only for
``--fix``. Checked for the scan's modules and the detectors written with it (CTX101-CTX104),
in a process where importing LibCST fails."""

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
    import importlib
    import importlib.util
    import sys
    import types

    sys.modules["libcst"] = None  # any import of LibCST now raises ImportError
    # The recipes' package imports every recipe; load the four without it.
    spec = importlib.util.find_spec("tracefix.recipes")
    package = types.ModuleType("tracefix.recipes")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["tracefix.recipes"] = package

    from tracefix.scan import config, context_use, engine, files, formats, suppressions
    from tracefix.testing import read_tree
    from tracefix.diagnose.project import Project

    names = ["script_module_level", "script_entry", "thread_target", "test_without_context"]
    recipes = []
    for name in names:
        module = importlib.import_module(f"tracefix.recipes.{name}")
        recipes += [v() for v in vars(module).values()
                    if isinstance(v, type) and getattr(v, "__module__", "") == module.__name__
                    and hasattr(v, "code")]
    project = Project(read_tree(__import__("pathlib").Path(sys.argv[1])))
    result = engine.scan(project, list(project.python_files()), recipes)
    print(sorted(f.code for f in result.findings), sys.modules["libcst"] is not None)
    """
)


def test_scanning_never_imports_libcst():
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(CASE)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "['CTX101'] False"
