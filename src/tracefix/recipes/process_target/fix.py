"""The codemods of CTX116: push the child's own app's context in the function it runs."""

from __future__ import annotations

import libcst as cst

from tracefix.diagnose.apps import AppSource
from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._imports import add_project_imports
from tracefix.recipes.scheduled_job.handoff_fix import wrap_body


def push_module_app(
    project: Project, path: str, name: str, app: str, import_statement: str | None = None
) -> FileChange:
    """``path`` with ``name``'s body under ``with <app>.app_context():``, importing the app
    first when ``import_statement`` is given (the child then imports, or re-imports, the
    module that makes it)."""
    module = project.cst(path)
    if import_statement is not None:
        module = add_project_imports(
            project, module, [import_statement], before=_index_of(module, name)
        )
    module = wrap_body(module, name, app)
    return FileChange(path, project.source(path), module.code)


def make_app_in_function(
    project: Project, path: str, name: str, source: AppSource, app: str
) -> FileChange:
    """``path`` with ``name`` making the app with the project's factory call, then running its
    body under ``with <app>.app_context():``."""
    module = project.cst(path)
    module = add_project_imports(
        project, module, [source.import_statement, *source.imports], before=_index_of(module, name)
    )
    module = wrap_body(module, name, app, before=[f"{app} = {source.call}"])
    return FileChange(path, project.source(path), module.code)


def _index_of(module: cst.Module, name: str) -> int:
    function = top_level_function(module, name)
    return next(index for index, statement in enumerate(module.body) if statement is function)
