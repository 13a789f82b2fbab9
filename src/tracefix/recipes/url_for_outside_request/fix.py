"""Give a script's ``url_for`` what it needs to build URLs: a request context to build against.

Two edits, both in the script run as ``__main__``, never in a function a view also calls:

- the script pushes ``with app.app_context():`` around the code that calls ``url_for``: that
  ``with`` becomes ``with app.test_request_context():``, which pushes the same app context and
  a request, so nothing else in the block changes;
- the script pushes no context: its statement is wrapped as CTX101 and CTX102 wrap it (the
  project's app, made the project's way), with ``test_request_context()`` where the app has no
  ``SERVER_NAME``, and ``app_context()`` where the project sets one for every app.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import relocate_line
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes.script_module_level.fix import wrap_script_statement
from tracefix.recipes.url_for_outside_request import APP_CONTEXT
from tracefix.recipes.url_for_outside_request import REQUEST_CONTEXT


def swap_to_request_context(
    project: Project, path: str, line: int, text: str | None
) -> tuple[FileChange, ...]:
    """Turn the ``with x.app_context():`` at ``path:line`` into
    ``with x.test_request_context():``."""
    before = project.source(path)
    if before is None:
        raise SkipFix(f"{path} is not in the project")
    found = relocate_line(before, line, text)
    if found is None:
        raise SkipFix(f"{path} no longer has the line the event saw")
    module = project.cst(path)
    statement = _with_at(module, found)
    if statement is None:
        raise SkipFix(f"{path}:{found} is not a `with` statement")
    methods = [_context_method(item) for item in statement.items]
    if REQUEST_CONTEXT in methods:
        raise SkipFix(f"{path}:{found} pushes a test request context already")
    if methods.count(APP_CONTEXT) != 1:
        raise SkipFix(f"{path}:{found} does not push one `app_context()`")
    items = [
        _renamed(item) if _context_method(item) == APP_CONTEXT else item for item in statement.items
    ]
    after = module.deep_replace(statement, statement.with_changes(items=items))
    assert isinstance(after, cst.Module)
    return (FileChange(path, before, after.code),)


def wrap_for_url_for(
    project: Project, path: str, line: int, text: str | None, method: str
) -> tuple[FileChange, ...]:
    """Wrap the script's statement at ``path:line`` in ``with app.<method>():``."""
    before = project.source(path)
    if before is None:
        raise SkipFix(f"{path} is not in the project")
    found = relocate_line(before, line, text)
    if found is None:
        raise SkipFix(f"{path} no longer has the line the event saw")
    after = wrap_script_statement(project, path, found)
    if method == APP_CONTEXT:
        return (FileChange(path, before, after),)
    module = cst.parse_module(after)
    moved = relocate_line(after, found, text)
    if moved is None:
        raise SkipFix(f"the wrapped statement of {path} could not be found again")
    chain = statement_chain(module, moved)
    wrapper = next(
        (
            located.statement
            for located in reversed(chain)
            if isinstance(located.statement, cst.With)
            and any(_context_method(item) == APP_CONTEXT for item in located.statement.items)
        ),
        None,
    )
    if wrapper is None:
        raise SkipFix(f"the `with` around {path}:{moved} could not be found again")
    assert isinstance(wrapper, cst.With)
    items = [
        _renamed(item) if _context_method(item) == APP_CONTEXT else item for item in wrapper.items
    ]
    replaced = module.deep_replace(wrapper, wrapper.with_changes(items=items))
    assert isinstance(replaced, cst.Module)
    return (FileChange(path, before, replaced.code),)


def _with_at(module: cst.Module, line: int) -> cst.With | None:
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    for located in statement_chain(module, line):
        statement = located.statement
        if isinstance(statement, cst.With) and positions[statement].start.line == line:
            return statement
    return None


def _context_method(item: cst.WithItem) -> str | None:
    call = item.item
    if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and not call.args:
        return call.func.attr.value
    return None


def _renamed(item: cst.WithItem) -> cst.WithItem:
    call = item.item
    assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
    func = call.func.with_changes(attr=cst.Name(REQUEST_CONTEXT))
    return item.with_changes(item=call.with_changes(func=func))
