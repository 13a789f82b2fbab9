"""The codemod of CTX109: wrap a streamed generator's call in ``stream_with_context(...)``."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._imports import add_project_imports
from tracefix.recipes.executor_task.fix import is_whole_statement
from tracefix.recipes.streamed_response.bodies import WRAPPER
from tracefix.recipes.streamed_response.bodies import BodyCall
from tracefix.recipes.thread_target import fix as thread_fix
from tracefix.recipes.thread_target.spawns import bound_name


def wrap_calls(project: Project, calls: Sequence[BodyCall]) -> tuple[FileChange, ...]:
    """The changes that put each of ``calls`` in ``stream_with_context(...)``, imported the way
    each file imports Flask."""
    changes = []
    for path in sorted({call.path for call in calls}):
        here = sorted((c for c in calls if c.path == path), key=lambda c: (c.line, c.column))
        module = project.cst(path)
        first = here[0].line
        wrapper = bound_name(project, path, WRAPPER, first)
        shift = 0
        if wrapper is None:
            lines = len(module.code.splitlines())
            before = statement_chain(module, first)[0].index
            module = add_project_imports(
                project, module, ["from flask import stream_with_context"], before=before
            )
            shift = len(module.code.splitlines()) - lines
            wrapper = "stream_with_context"
        for call in reversed(here):
            module = wrap_call(module, call.line + shift, call.column, wrapper)
        changes.append(FileChange(path, project.source(path), module.code))
    return tuple(changes)


def wrap_call(module: cst.Module, line: int, column: int, wrapper: str) -> cst.Module:
    """``module`` with the call that starts at ``line``, ``column`` put in ``wrapper(...)``.

    When that makes the line too long and the call is an argument of the statement's whole
    call (``return Response(gen(), mimetype=...)``), that call goes one argument per line."""
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    found = [
        node
        for node in positions
        if isinstance(node, cst.Call)
        and (positions[node].start.line, positions[node].start.column) == (line, column)
    ]
    if not found:
        raise SkipFix(f"cannot find the generator's call at line {line}")
    call = found[-1]
    wrapped = cst.Call(cst.parse_expression(wrapper), [cst.Arg(call)])
    outer = next(
        (
            node
            for node in positions
            if isinstance(node, cst.Call) and any(arg.value is call for arg in node.args)
        ),
        None,
    )
    if outer is not None and is_whole_statement(module, outer, positions[outer].start.line):
        arguments = [
            arg.with_changes(value=wrapped) if arg.value is call else arg for arg in outer.args
        ]
        new = outer.with_changes(args=arguments)
        return thread_fix.replace_call(module, outer, new, positions[outer].start.line)
    replaced = module.deep_replace(call, wrapped)
    assert isinstance(replaced, cst.Module)
    return replaced
