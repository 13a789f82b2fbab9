"""CTX101's and CTX102's static check: where a script run as ``__main__`` first needs an app
context, from the code alone.

Both causes fail at the script's own statement: CTX101 when the statement itself uses Flask
(``db.session.add(user)`` at the top level), CTX102 when it calls project code that does
(``seed()`` in the ``if __name__ == "__main__":`` block). The script stops at its first
failure, so each script has at most one finding, and the two recipes share the search
(``ContextAnalysis.script_use``): each reports the failure only when it is its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracefix.diagnose.apps import is_main_guard
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.diagnosis import Location
from tracefix.diagnose.project import Project
from tracefix.recipes._base import Recipe
from tracefix.scan.context_use import Use
from tracefix.scan.context_use import analysis


def script_failures(
    recipe: Recipe, path: str, project: Project, *, through_project_code: bool
) -> Iterator[Diagnosis]:
    """The script's first failure for want of an app context, if it is ``recipe``'s: direct
    (CTX101) or ``through_project_code`` (CTX102)."""
    use = analysis(project).script_use(path)
    if use is None or use.kind != "app" or use.path != path:
        return
    if (use.inner is not None) != through_project_code:
        return
    lines = (project.source(path) or "").splitlines()
    statement = lines[use.line - 1].strip() if use.line <= len(lines) else ""
    yield recipe.diagnosis(
        _explanation(use, _in_main_block(project, path, use.line)),
        Location(path, use.line, use.column),
        path=path,
        line=use.line,
        statement=statement,
        found_by_scan=True,
    )


def _explanation(use: Use, in_main_block: bool) -> str:
    where = (
        'in the script\'s `if __name__ == "__main__":` block'
        if in_main_block
        else "at the top level of a script"
    )
    return (
        f"{use.describe()} needs an app context; {where} nothing has pushed one (Flask does "
        "only while it handles a request or runs a `flask` command)"
    )


def _in_main_block(project: Project, path: str, line: int) -> bool:
    tree = project.ast(path)
    return tree is not None and any(
        is_main_guard(statement) and statement.lineno <= line <= (statement.end_lineno or 0)
        for statement in tree.body
    )
