"""Every recipe over every one of its cases: diagnosis, fix, idempotence, and noops left alone."""

from __future__ import annotations

import sys

import pytest

from tracefix.diagnose import diagnose
from tracefix.recipes import RECIPES
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._fixing import apply_fix
from tracefix.testing import case_dirs
from tracefix.testing import load_case

CASES = [
    pytest.param(recipe_class, case_dir, id=f"{recipe_class.code}-{case_dir.name}")
    for recipe_class in RECIPES
    for case_dir in case_dirs(sys.modules[recipe_class.__module__].__file__ or "")
]


@pytest.mark.parametrize(("recipe_class", "case_dir"), CASES)
def test_case(recipe_class, case_dir):
    recipe = recipe_class()
    case = load_case(case_dir)
    diagnosis = diagnose(case.event, case.project)

    if case.is_noop:
        if diagnosis is not None and diagnosis.code == recipe.code:
            result = apply_fix(recipe, diagnosis, case.project)
            assert isinstance(result, FixSkip), result
        return

    assert diagnosis is not None, "no recipe recognised the event"
    assert diagnosis.code == recipe.code
    result = apply_fix(recipe, diagnosis, case.project)
    assert isinstance(result, FixSuccess), result
    changed = {change.path: change.after for change in result.changes}
    assert changed == case.expected

    fixed = case.project.with_changes(changed)
    again = apply_fix(recipe, diagnosis, fixed)
    assert isinstance(again, FixSkip), f"fixing twice changed the code again:\n{again}"
