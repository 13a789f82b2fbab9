"""The scan on the recipes' own fixtures: what ``diagnose`` found at run time, ``detect`` finds
in the code; ``--fix`` writes the same fix; the fixed side of every fixture is clean.

Every recipe in ``RECIPES`` takes part, so a recipe added later is held to the same rules.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tracefix.diagnose import diagnose
from tracefix.recipes import RECIPES
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix
from tracefix.scan.engine import scan
from tracefix.testing import case_dirs
from tracefix.testing import load_case
from tracefix.testing import read_tree

#: The recipes whose ``detect`` this change wrote; the others are held to the general rules.
DETECTORS_HERE = ("CTX101", "CTX102", "CTX103", "CTX104")
EXAMPLE = Path(__file__).parents[2] / "examples" / "seed-app"


def cases(*, fix: bool | None = None) -> list[object]:
    return [
        pytest.param(recipe_class, case_dir, id=f"{recipe_class.code}-{case_dir.name}")
        for recipe_class in RECIPES
        for case_dir in case_dirs(sys.modules[recipe_class.__module__].__file__ or "")
        if fix is None or (case_dir / "expected").is_dir() == fix
    ]


def has_detector(recipe_class: type[Recipe]) -> bool:
    return recipe_class.detect is not Recipe.detect


@pytest.mark.parametrize(("recipe_class", "case_dir"), cases(fix=True))
def test_the_fixed_side_of_every_fixture_has_no_finding(recipe_class, case_dir):
    case = load_case(case_dir)
    assert case.expected is not None
    fixed = case.project.with_changes(case.expected)
    changed = [path for path in case.expected if path.endswith(".py")]
    result = scan(fixed, changed, [recipe() for recipe in RECIPES])
    assert [(f.code, str(f.diagnosis.location)) for f in result.findings] == []
    assert result.errors == []


@pytest.mark.parametrize(("recipe_class", "case_dir"), cases(fix=True))
def test_fix_writes_exactly_the_expected_files(recipe_class, case_dir, tmp_path, tracefix_scan):
    if recipe_class.applicability is not Applicability.SAFE:
        pytest.skip(f"{recipe_class.code}'s fix is unsafe: scan --fix leaves it to tracefix run")
    if not has_detector(recipe_class):
        pytest.skip(f"{recipe_class.code} has no detect")
    root = tmp_path / "project"
    shutil.copytree(case_dir / "project", root)
    before = read_tree(root)
    run = tracefix_scan(root, "--fix", "--select", recipe_class.code)
    after = read_tree(root)
    expected = read_tree(case_dir / "expected")
    assert {path: after.get(path) for path in expected} == expected, run.stderr
    untouched = {path: text for path, text in after.items() if path not in expected}
    assert untouched == {path: text for path, text in before.items() if path not in expected}
    assert run.code == 0, run.stdout + run.stderr
    assert not [path for path in after if ".tracefix-" in path]


@pytest.mark.parametrize(
    ("recipe_class", "case_dir"),
    [p for p in cases() if p.values[0].code in DETECTORS_HERE],  # type: ignore[attr-defined]
)
def test_detect_finds_what_diagnose_found_and_nothing_else_there(recipe_class, case_dir):
    """Labelled by the case's recorded failure: where ``diagnose`` recognised it (a fix case,
    or a case whose fix the recipe declines: the code still fails) the finding must be at
    that line; elsewhere in the files the failure ran through, there must be none."""
    case = load_case(case_dir)
    diagnosis = diagnose(case.event, case.project)
    recipes = [recipe() for recipe in RECIPES if recipe.code in DETECTORS_HERE]
    ran_through = sorted(
        {f.filename for f in case.event.frames if f.in_app} & set(case.project.files)
    )
    found = {(f.code, f.path, f.line) for f in scan(case.project, ran_through, recipes).findings}
    if diagnosis is not None and diagnosis.code == recipe_class.code:
        location = diagnosis.location
        assert found == {(diagnosis.code, location.path, location.line)}
    else:
        assert found == set()


def test_the_bundled_example_is_clean_once_fixed(tmp_path, tracefix_scan):
    root = tmp_path / "seed-app"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    first = tracefix_scan(root)
    assert first.code == 1
    assert first.stdout.startswith("scripts/seed_db.py:5:1: CTX101 [*]")
    fixed = tracefix_scan(root, "--fix")
    assert fixed.code == 0, fixed.stdout + fixed.stderr
    assert "Fixed 1 finding in 1 file." in fixed.stderr
    again = tracefix_scan(root)
    assert (again.code, again.stdout.strip()) == (0, "All checks passed!")


@pytest.mark.parametrize(("recipe_class", "case_dir"), cases())
def test_a_diagnosis_with_a_reason_is_one_the_fix_skips(recipe_class, case_dir):
    """The ``reason`` fact is how a recipe says it will not fix a diagnosis, and what makes
    ``scan`` offer no fix for it: ``fix`` must then skip, and must not otherwise be promised
    away."""
    case = load_case(case_dir)
    recipe = recipe_class()
    diagnoses = [
        *(d for path in case.project.python_files() for d in recipe.detect(path, case.project)),
        *([d] if (d := recipe.diagnose(case.event, case.project)) is not None else []),
    ]
    for diagnosis in diagnoses:
        if recipe.offers_fix(diagnosis):
            continue
        assert diagnosis.facts["reason"]
        with pytest.raises(SkipFix):
            recipe.fix(diagnosis, case.project)
