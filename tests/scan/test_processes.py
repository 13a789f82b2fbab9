"""A scan on two cores finds what a scan in one process finds, in the same order, and never
less when the second process fails. Each check runs in a fresh interpreter: forking is only
safe from a process with no other thread, which a test session's may not be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPES = Path(__file__).parents[2] / "src/tracefix/recipes"

#: Every recipe's fixture projects side by side, plus a test and two app modules that do not
#: parse, then both scans; prints what each found and how many processes detected it.
SCRIPT = """\
import json, os, sys
from pathlib import Path

from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.recipes import all_recipes
from tracefix.recipes._base import Recipe
from tracefix.scan import engine, processes
from tracefix.scan.context_use import ContextAnalysis
from tracefix.testing import read_tree

# Two cores to fork for, whatever this machine has: what is checked is the outcome.
os.sched_getaffinity = lambda pid: {0, 1}

files = {}
for project in sorted(Path(sys.argv[1]).glob("*/cases/*/project")):
    prefix = f"{project.parent.parent.parent.name}/{project.parent.name}/"
    files.update({prefix + path: text for path, text in read_tree(project).items()})
files["broken/tests/test_broken.py"] = "def test(:\\n"
files["broken/app.py"] = "x = (\\n"
files["broken/jobs.py"] = "y = [\\n"
paths = sorted(path for path in files if path.endswith(".py"))


# Reports on, or fails on, files that do not parse: asked about them only by a share whose
# paths the other share checks.
class Careless(Recipe):
    code, name, summary, fix_title = "CTX999", "careless", "careless", "none"

    def diagnose(self, event, project):
        return None

    def fix(self, diagnosis, project):
        return ()

    def detect(self, path, project):
        if path == "broken/app.py":
            raise RuntimeError("no tree")
        if path == "broken/jobs.py":
            yield self.diagnosis("found", Location(path, 1, 1))


recipes = (*all_recipes(), Careless())
parent = os.getpid()
made_by = set()

real_detect = processes.detect
def detect(project, paths, recipes, **options):
    if sys.argv[2] == "child-fails" and os.getpid() != parent:
        raise RuntimeError("the forked process fails")
    detected = real_detect(project, paths, recipes, **options)
    detected.made_by = os.getpid()
    return detected
processes.detect = detect

imports_read_here = set()
real_imports = ContextAnalysis.modules_imported_by
def modules_imported_by(analysis, path):
    if os.getpid() == parent:
        imports_read_here.add(path)
    return real_imports(analysis, path)
ContextAnalysis.modules_imported_by = modules_imported_by

real_collect = processes.collect
def collect(project, paths, recipes, parts):
    made_by.update(part.made_by for part in parts)
    return real_collect(project, paths, recipes, parts)
processes.collect = collect

def found(result):
    return {
        "findings": [
            [f.code, f.path, f.line, f.column, f.message, f.fixable] for f in result.findings
        ],
        "errors": [[e.path, e.line, e.column, e.message] for e in result.errors],
        "suppressed": result.suppressed,
        "files": result.files,
    }

print(json.dumps({
    "can_fork": processes._can_fork(),
    "one": found(engine.scan(Project(files), paths, recipes)),
    "two": found((imports_read_here.clear(), processes.scan(Project(files), paths, recipes))[1]),
    "test_imports_read_here": sorted(path for path in imports_read_here if "/tests/" in path),
    "processes": len(made_by),
}))
"""


def _both_scans(how: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(RECIPES), how],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def forked() -> dict:
    found = _both_scans("forked")
    if not found["can_fork"]:
        pytest.skip("no fork on this platform: a scan runs in one process")
    return found


def test_two_processes_find_what_one_does_in_the_same_order(forked):
    assert forked["two"] == forked["one"]
    assert forked["processes"] == 2
    # The first process has the tests' imports from the other, which parses the tests anyway.
    assert forked["test_imports_read_here"] == []
    # Findings in tests and in app code, and a file of each kind that does not parse.
    one = forked["one"]
    assert any("/tests/" in path for _, path, *_ in one["findings"])
    assert any("/tests/" not in path for _, path, *_ in one["findings"])
    assert [error[0] for error in one["errors"]] == [
        "broken/app.py",
        "broken/jobs.py",
        "broken/tests/test_broken.py",
    ]


def test_a_failed_second_process_leaves_its_share_to_the_first(forked):
    fallen_back = _both_scans("child-fails")
    assert fallen_back["processes"] == 1
    assert fallen_back["two"] == forked["one"]


@pytest.mark.parametrize(
    ("setting", "forks"),
    [
        ("os.sched_getaffinity = lambda pid: {0, 1}", True),
        ("os.sched_getaffinity = lambda pid: {0}", False),
        (
            "os.sched_getaffinity = lambda pid: {0, 1}\n"
            "threading.Thread(target=threading.Event().wait, daemon=True).start()",
            False,
        ),
    ],
    ids=["two cores", "one core", "another thread"],
)
def test_a_second_process_is_forked_only_with_a_core_for_it_and_no_other_thread(setting, forks):
    code = f"import os, threading\nfrom tracefix.scan import processes\n{setting}\n"
    run = subprocess.run(
        [sys.executable, "-c", code + "print(processes._can_fork())"],
        capture_output=True,
        text=True,
    )
    can_fork_here = hasattr(os, "fork") and sys.platform != "darwin"
    assert run.stdout.strip() == str(forks and can_fork_here), run.stderr
