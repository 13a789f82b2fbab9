"""The codemod of CTX117: run the executor's function in a copy of the awaiting context."""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._imports import add_imports_in_file_style

#: Calls that give the running event loop, whose result a fix may leave unused.
LOOP_GETTERS = frozenset({"get_running_loop", "get_event_loop"})


def copy_context_into_executor_call(
    module: cst.Module, call: ast.Call, coroutine: ast.AsyncFunctionDef
) -> cst.Module:
    """``module`` with ``await <loop>.run_in_executor(None, f, *args)`` as
    ``await asyncio.to_thread(f, *args)``, or, with an executor of its own,
    ``<loop>.run_in_executor(pool, contextvars.copy_context().run, f, *args)``."""
    node = _call_at(module, call)
    arguments = list(node.args)
    if len(arguments) < 2 or any(arg.keyword is not None or arg.star for arg in arguments[:2]):
        raise SkipFix(f"the run_in_executor call at line {call.lineno} is not written out")
    default_executor = (
        isinstance(arguments[0].value, cst.Name) and arguments[0].value.value == "None"
    )
    lines = len(module.code.splitlines())
    if default_executor:
        module, asyncio = _module_named(module, "asyncio", call.lineno)
        node = _call_at(module, call, shift=len(module.code.splitlines()) - lines)
        new = node.with_changes(
            func=cst.parse_expression(f"{asyncio}.to_thread"), args=list(node.args)[1:]
        )
        module = _replace(module, node, new)
        return _without_unused_loop(module, node.func, coroutine)
    module, contextvars = _module_named(module, "contextvars", call.lineno)
    node = _call_at(module, call, shift=len(module.code.splitlines()) - lines)
    arguments = list(node.args)
    copied = cst.Arg(
        cst.parse_expression(f"{contextvars}.copy_context().run"),
        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
    )
    return _replace(module, node, node.with_changes(args=[arguments[0], copied, *arguments[1:]]))


def _module_named(module: cst.Module, name: str, line: int) -> tuple[cst.Module, str]:
    """``module`` importing the standard module ``name``, and what the file calls it."""
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        if cst.helpers.get_full_name_for_node(alias.name) == name:
                            if alias.asname is None:
                                return module, name
                            return module, cst.helpers.get_full_name_for_node(
                                alias.asname.name
                            ) or name
    before = statement_chain(module, line)[0].index
    return add_imports_in_file_style(module, [f"import {name}"], before=before), name


def _without_unused_loop(
    module: cst.Module, receiver: cst.BaseExpression, coroutine: ast.AsyncFunctionDef
) -> cst.Module:
    """``module`` without ``loop = asyncio.get_running_loop()`` in the coroutine when the
    replaced call was that loop's last use."""
    if not isinstance(receiver, cst.Attribute) or not isinstance(receiver.value, cst.Name):
        return module
    loop = receiver.value.value
    tree = ast.parse(module.code)
    function = next(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.AsyncFunctionDef) and node.name == coroutine.name
        ),
        None,
    )
    if function is None:
        return module
    reads = [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and node.id == loop and isinstance(node.ctx, ast.Load)
    ]
    assignments = [
        statement
        for statement in function.body
        if isinstance(statement, ast.Assign)
        and [getattr(t, "id", None) for t in statement.targets] == [loop]
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute | ast.Name)
        and (
            getattr(statement.value.func, "attr", None) or getattr(statement.value.func, "id", None)
        )
        in LOOP_GETTERS
    ]
    if reads or len(assignments) != 1:
        return module
    return _remove_statement_at(module, assignments[0].lineno)


def _remove_statement_at(module: cst.Module, line: int) -> cst.Module:
    chain = statement_chain(module, line)
    if not chain:
        return module
    located = chain[-1]
    statement = located.statement
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return module
    block = located.block
    body = list(block.body)
    index = located.index
    if index + 1 >= len(body):
        return module
    following = body[index + 1]
    assert isinstance(following, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    body[index + 1] = following.with_changes(
        leading_lines=[*statement.leading_lines, *following.leading_lines]
    )
    del body[index]
    replaced = module.deep_replace(block, block.with_changes(body=body))
    assert isinstance(replaced, cst.Module)
    return replaced


def _call_at(module: cst.Module, call: ast.Call, *, shift: int = 0) -> cst.Call:
    found = _find_call(module, call, shift)
    if found is None:
        raise SkipFix(f"cannot find the run_in_executor call at line {call.lineno}")
    return found


def _find_call(module: cst.Module, call: ast.Call, shift: int) -> cst.Call | None:
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    start = (call.lineno + shift, call.col_offset)
    end = ((call.end_lineno or call.lineno) + shift, call.end_col_offset or 0)
    found = [
        node
        for node in positions
        if isinstance(node, cst.Call)
        and (positions[node].start.line, positions[node].start.column) == start
        and (positions[node].end.line, positions[node].end.column) == end
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "run_in_executor"
    ]
    return found[0] if len(found) == 1 else None


def _replace(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    replaced = module.deep_replace(old, new)
    assert isinstance(replaced, cst.Module)
    return replaced
