"""Run a recipe's fix and turn every outcome into a value: it never raises (LibCST's runner)."""

from __future__ import annotations

import traceback

import libcst as cst

from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.project import Project
from tracefix.errors import TracefixError
from tracefix.recipes._base import FixFailure
from tracefix.recipes._base import FixResult
from tracefix.recipes._base import FixSkip
from tracefix.recipes._base import FixSuccess
from tracefix.recipes._base import Recipe
from tracefix.recipes._base import SkipFix


def apply_fix(recipe: Recipe, diagnosis: Diagnosis, project: Project) -> FixResult:
    """Run ``recipe.fix`` and check its output: real changes only, each still valid Python.

    ``TracefixError`` (the user's code does not parse) propagates; anything else is a value.
    """
    try:
        changes = recipe.fix(diagnosis, project)
    except SkipFix as exc:
        return FixSkip(str(exc))
    except TracefixError:
        raise
    except Exception as exc:
        return FixFailure(f"{type(exc).__name__}: {exc}", traceback.format_exc())
    changes = tuple(c for c in changes if c.before != c.after)
    if not changes:
        return FixSkip("the fix changes nothing")
    for change in changes:
        if change.path.endswith(".py"):
            try:
                cst.parse_module(change.after)
            except cst.ParserSyntaxError as exc:
                return FixFailure(f"the fix of {change.path} does not parse: {exc}", "")
    return FixSuccess(changes)
