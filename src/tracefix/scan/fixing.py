"""``tracefix scan --fix``: the recipes' own codemods on the findings whose fix is safe.

A finding carries the ``Diagnosis`` its recipe's ``fix`` needs, so the fix is the one
``tracefix run`` would write (without ``run``'s verification: only fixes their recipe declares
safe are applied). Fixes run one at a time on the project in memory; after each round the
project is scanned again, because a fix moves the lines of the file it changes, and may make
another finding go away or appear. Nothing is written until the last round: then every changed
file is replaced at once and atomically (``deliver.apply.apply_changes``: a temporary file
beside it, ``os.replace``, all files or none, never over a file that changed meanwhile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from tracefix.diagnose.project import Project
from tracefix.errors import TracefixError
from tracefix.patch import FileChange
from tracefix.recipes._base import Recipe
from tracefix.scan.engine import Finding
from tracefix.scan.engine import ScanResult
from tracefix.scan.engine import scan

#: Rounds of fix-then-rescan before giving up on a project whose fixes keep finding more.
MAX_ROUNDS = 10


@dataclass
class FixReport:
    #: Whole-file changes from the project as read to the project as fixed.
    changes: list[FileChange] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    #: Safe-fix findings the recipe declined to fix, with its reason.
    declined: list[tuple[Finding, str]] = field(default_factory=list)


def fix_findings(
    project: Project, paths: Sequence[str], recipes: Sequence[Recipe], result: ScanResult
) -> tuple[FixReport, ScanResult]:
    """Fix what can be fixed safely; the report and the scan of the fixed project."""
    from tracefix.recipes._base import FixSuccess
    from tracefix.recipes._fixing import apply_fix  # LibCST: loaded only to fix

    by_code = {recipe.code: recipe for recipe in recipes}
    report = FixReport()
    attempted: set[tuple[str, str, str]] = set()
    current = project
    for _ in range(MAX_ROUNDS):
        changed_now: set[str] = set()
        for finding in result.findings:
            key = (finding.code, finding.path, _line_text(current, finding))
            if not finding.fixable or key in attempted or finding.path in changed_now:
                continue
            attempted.add(key)
            try:
                outcome = apply_fix(by_code[finding.code], finding.diagnosis, current)
            except TracefixError as exc:
                report.declined.append((finding, exc.message))
                continue
            if not isinstance(outcome, FixSuccess):
                reason = getattr(outcome, "reason", None) or getattr(outcome, "error", "")
                report.declined.append((finding, str(reason)))
                continue
            current = current.with_changes({c.path: c.after for c in outcome.changes})
            changed_now.update(change.path for change in outcome.changes)
            report.fixed.append(finding)
        if not changed_now:
            break
        result = scan(current, paths, recipes)
    # What was tried and declined is no longer offered: ``--fix`` just said why not.
    result.findings = [
        replace(finding, fixable=False)
        if (finding.code, finding.path, _line_text(current, finding)) in attempted
        else finding
        for finding in result.findings
    ]
    report.changes = [
        FileChange(path, project.source(path), current.files[path])
        for path in sorted(current.files)
        if project.source(path) != current.files[path]
    ]
    return report, result


def _line_text(project: Project, finding: Finding) -> str:
    lines = (project.source(finding.path) or "").splitlines()
    return lines[finding.line - 1].strip() if 0 < finding.line <= len(lines) else ""
