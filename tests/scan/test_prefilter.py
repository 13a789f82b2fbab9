"""``Project.may_name``, the text test that lets a detector skip a file, loses no finding: every
fixture project (and its fixed side) scans to the same findings with the test answering "yes"
for every file, and a name spelt in other Unicode characters still counts."""

from __future__ import annotations

import sys

import pytest

from tracefix.diagnose.project import Project
from tracefix.recipes import RECIPES
from tracefix.recipes import all_recipes
from tracefix.scan.engine import scan
from tracefix.testing import case_dirs
from tracefix.testing import load_case


def projects() -> list[object]:
    found = []
    for recipe_class in RECIPES:
        for case_dir in case_dirs(sys.modules[recipe_class.__module__].__file__ or ""):
            case = load_case(case_dir)
            found.append(pytest.param(case.project, id=f"{recipe_class.code}-{case_dir.name}"))
            if case.expected is not None:
                fixed = case.project.with_changes(case.expected)
                found.append(pytest.param(fixed, id=f"{recipe_class.code}-{case_dir.name}-fixed"))
    return found


def findings(project: Project) -> list[tuple[str, str, int, int, str]]:
    result = scan(project, list(project.python_files()), all_recipes())
    return [(f.code, f.path, f.line, f.column, f.message) for f in result.findings]


@pytest.mark.parametrize("project", projects())
def test_the_prefilter_changes_no_finding(project, monkeypatch):
    filtered = findings(Project(dict(project.files)))
    monkeypatch.setattr(Project, "may_name", lambda self, path, name: True)
    assert findings(Project(dict(project.files))) == filtered


def test_a_name_spelt_in_other_unicode_characters_may_be_named():
    project = Project({"a.py": "loop.\uff52un_in_executor(None, f)\n", "b.py": "x = 1\n"})
    assert project.may_name("a.py", "run_in_executor")
    assert not project.may_name("b.py", "run_in_executor")
