"""What a scan leaves behind: its trees die with the project, and the cycle collector is as it
was. Both are what keeps ``tracefix scan`` fast on a large project: a tree the caches kept alive
would be traversed by every later collection, and by the one at interpreter exit."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from tracefix.diagnose.project import Project
from tracefix.recipes import all_recipes
from tracefix.scan.engine import scan
from tracefix.testing import read_tree

CASE = (
    Path(__file__).parents[2]
    / "src/tracefix/recipes/script_module_level/cases/seed_factory/project"
)


def test_a_scanned_project_is_freed_by_reference_counting():
    project = Project(read_tree(CASE))
    result = scan(project, list(project.python_files()), all_recipes())
    assert result.findings
    tree = weakref.ref(project.ast(next(project.python_files())) or project)
    gone = weakref.ref(project)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del project
        assert gone() is None
        assert tree() is None
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_left_as_it_was(enabled):
    project = Project(read_tree(CASE))
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        scan(project, list(project.python_files()), all_recipes())
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
