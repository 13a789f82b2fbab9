"""Run the recipes' detectors over a project's files and collect what they find.

Every file to scan is parsed once, up front, through ``Project.ast`` (so a file that does not
parse is reported once, as a ``ScanError``, and skipped, never fatal); then each recipe's
``detect`` reads the same trees. A detector that raises is reported as an error of that file
and the scan goes on: one broken recipe must not hide the others' findings. Findings that a
``# tracefix: ignore`` comment suppresses are counted, not shown.
"""

from __future__ import annotations

import ast
import gc
import os
import sys
import traceback
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from tracefix.diagnose.dependencies import python_not_admitted
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.project import Project
from tracefix.recipes._base import Applicability
from tracefix.recipes._base import Recipe
from tracefix.scan.suppressions import Suppressions
from tracefix.scan.suppressions import is_suppressed
from tracefix.scan.suppressions import suppressions


@dataclass(frozen=True)
class Finding:
    """One place where a recipe's cause will happen."""

    diagnosis: Diagnosis
    #: The recipe offers a fix for this finding and declares it safe: ``scan --fix`` applies it.
    fixable: bool
    #: What the recipe's fix does; ``None`` when it offers none for this finding.
    fix_title: str | None

    @property
    def code(self) -> str:
        return self.diagnosis.code

    @property
    def path(self) -> str:
        return self.diagnosis.location.path

    @property
    def line(self) -> int:
        return self.diagnosis.location.line

    @property
    def column(self) -> int:
        return max(self.diagnosis.location.column, 1)

    @property
    def message(self) -> str:
        return self.diagnosis.explanation

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)


@dataclass(frozen=True)
class ScanError:
    """A file the scan could not check (it does not parse, or a detector failed on it)."""

    path: str
    line: int
    column: int
    message: str


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    #: How many files were checked.
    files: int = 0
    #: How many findings ``# tracefix: ignore`` comments suppressed.
    suppressed: int = 0

    @property
    def found_anything(self) -> bool:
        return bool(self.findings or self.errors)


def scan(project: Project, paths: Sequence[str], recipes: Sequence[Recipe]) -> ScanResult:
    """What ``recipes`` detect in ``paths`` of ``project``; where two report the same line,
    the one earlier in ``recipes``."""
    return collect(project, paths, recipes, [detect(project, paths, recipes)])


@dataclass
class Detected:
    """What the detectors reported on some of a scan's paths, as they reported it: plain data,
    so that a second process can hand its share over (``scan/processes.py``)."""

    #: Each path's diagnoses by each recipe (its code), in the order they were asked.
    reports: list[tuple[str, str, list[Diagnosis]]] = field(default_factory=list)
    #: Files that do not parse.
    unparsed: list[ScanError] = field(default_factory=list)
    #: Detectors that raised.
    failed: list[ScanError] = field(default_factory=list)


def detect(
    project: Project,
    paths: Sequence[str],
    recipes: Sequence[Recipe],
    *,
    check_syntax: bool = True,
) -> Detected:
    """Every recipe's ``detect`` on each of ``paths`` that parses. ``check_syntax=False``:
    another share of the scan parses ``paths`` and reports those that do not parse, and
    ``collect`` drops what this one found in them: each file is parsed only where a
    detector needs its tree."""
    detected = Detected()
    with _cycle_collector_paused():
        parsed = []
        for path in paths:
            if check_syntax and project.ast(path) is None:
                detected.unparsed.append(_syntax_error(project, path))
            else:
                parsed.append(path)
        for path in parsed:
            for recipe in recipes:
                try:
                    detected.reports.append((path, recipe.code, list(recipe.detect(path, project))))
                except Exception as exc:
                    detected.failed.append(_detector_error(recipe, path, exc))
    return detected


def collect(
    project: Project,
    paths: Sequence[str],
    recipes: Sequence[Recipe],
    parts: Sequence[Detected],
) -> ScanResult:
    """The findings of ``parts`` (between them, what ``detect`` reports on ``paths``), in the
    order one ``detect`` of all of ``paths`` reports them, whichever part each is in."""
    result = ScanResult(files=len(paths))
    result.errors.extend(error for part in parts for error in part.unparsed)
    if result.errors:
        _name_a_newer_python(project, result.errors)
    unparsed = {error.path for error in result.errors}
    result.errors.extend(
        error for part in parts for error in part.failed if error.path not in unparsed
    )
    order = {path: index for index, path in enumerate(paths)}
    by_code = {recipe.code: (index, recipe) for index, recipe in enumerate(recipes)}
    reports = sorted(
        (
            (order[path], *by_code[code], diagnoses)
            for part in parts
            for path, code, diagnoses in part.reports
            if path not in unparsed
        ),
        key=lambda report: report[:2],
    )
    seen: set[tuple[str, int]] = set()
    tables: dict[str, Suppressions] = {}
    for _, _, recipe, diagnoses in reports:
        for diagnosis in diagnoses:
            offered = recipe.offers_fix(diagnosis)
            finding = Finding(
                diagnosis,
                offered and recipe.applicability is Applicability.SAFE,
                recipe.fix_title if offered else None,
            )
            # One failure per line: the recipe first in ``recipes`` (RECIPES' order, the
            # order ``diagnose`` asks them in) names it.
            key = (finding.path, finding.line)
            if key in seen:
                continue
            seen.add(key)
            if finding.path not in tables:
                tables[finding.path] = suppressions(project.source(finding.path) or "")
            if is_suppressed(tables[finding.path], finding.line, finding.code):
                result.suppressed += 1
            else:
                result.findings.append(finding)
    result.findings.sort(key=Finding.sort_key)
    result.errors.sort(key=lambda error: (error.path, error.line, error.column))
    return result


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the scan runs, and what it made aged into the oldest
    generation when it ends. The scan keeps every file's tree alive (half a million objects on
    a 50,000-line project, none in a cycle: reference counting frees them), and each
    collection that meets them traverses them all: with it on, half the scan's time.
    ``freeze`` then ``unfreeze`` moves them into the oldest generation without a traversal, so
    the young collections after the scan skip them too, and the next full one (which frees
    any cycles made meanwhile) comes no sooner than it would have."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def _syntax_error(project: Project, path: str) -> ScanError:
    try:
        ast.parse(project.source(path) or "", filename=path)
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").splitlines()[0]
        return ScanError(path, exc.lineno or 1, max(exc.offset or 1, 1), f"SyntaxError: {message}")
    except ValueError as exc:
        return ScanError(path, 1, 1, f"SyntaxError: {exc}")
    return ScanError(path, 1, 1, "SyntaxError: the file does not parse")


def _name_a_newer_python(project: Project, errors: list[ScanError]) -> None:
    """Where the project requires a Python this one is not, say so on each file that does not
    parse: its syntax may be that newer Python's (a 3.12 f-string's quotes), not a mistake."""
    running = ".".join(map(str, sys.version_info[:3]))
    required = python_not_admitted(project, running)
    if required is not None:
        errors[:] = [
            replace(
                error,
                message=f"{error.message} (the project requires Python {required}; "
                f"tracefix runs on {running} here: run it with a Python the project supports)",
            )
            for error in errors
        ]


def _detector_error(recipe: Recipe, path: str, exc: Exception) -> ScanError:
    if os.environ.get("TRACEFIX_DEBUG"):
        traceback.print_exc()
    return ScanError(
        path,
        1,
        1,
        f"internal error: {recipe.code}'s detector failed ({type(exc).__name__}: {exc}); "
        "TRACEFIX_DEBUG=1 shows the traceback",
    )
