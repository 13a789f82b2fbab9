"""The recipe table is complete and consistent: forgetting a line fails here."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import tracefix.recipes
from tracefix.recipes import RECIPES
from tracefix.recipes._base import Applicability
from tracefix.testing import case_dirs

DOC_SECTIONS = (
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## Fix safety",
)


def recipe_packages():
    return [
        m.name
        for m in pkgutil.iter_modules(tracefix.recipes.__path__)
        if m.ispkg and not m.name.startswith("_")
    ]


def test_every_recipe_folder_is_registered():
    registered = {cls.__module__.split(".")[2] for cls in RECIPES}
    assert set(recipe_packages()) == registered


def test_every_recipe_package_exports_its_recipe():
    for name in recipe_packages():
        module = importlib.import_module(f"tracefix.recipes.{name}")
        assert any(cls.__module__ == module.__name__ for cls in RECIPES), name


def test_each_row_of_the_table_has_its_class_code():
    """``tracefix scan`` selects recipes by the table's codes, before it imports any class."""
    assert [code for code, _, _ in tracefix.recipes.TABLE] == [cls.code for cls in RECIPES]
    assert [folder for _, folder, _ in tracefix.recipes.TABLE] == [
        cls.__module__.split(".")[2] for cls in RECIPES
    ]


def test_codes_and_names_are_unique():
    codes = [cls.code for cls in RECIPES]
    names = [cls.name for cls in RECIPES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)


def test_every_recipe_is_documented_and_has_fix_and_noop_cases():
    for cls in RECIPES:
        doc = cls.documentation()
        for section in DOC_SECTIONS:
            assert section in doc, f"{cls.code} docstring lacks {section!r}"
        assert isinstance(cls.applicability, Applicability)
        cases = case_dirs(sys.modules[cls.__module__].__file__ or "")
        kinds = {(case / "expected").is_dir() for case in cases}
        assert kinds == {True, False}, f"{cls.code} needs at least one fix and one noop case"
