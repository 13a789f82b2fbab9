"""The codemods of CTX105: give a Celery app Flask's context-pushing task class, or push the
context in one task's body.

Flask's pattern (docs/patterns/celery), written where the project makes its Celery app::

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import edit_block
from tracefix.recipes._codemod import expand_one_line_body
from tracefix.recipes._codemod import is_context_with
from tracefix.recipes._codemod import is_docstring_line
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._codemod import wrap_statements

TASK_CLASS_KEYWORD = "task_cls"
#: The longest line a fix writes without breaking a call over several lines (black's default).
MAX_LINE = 88

_TASK_CLASS = """\
class {name}({base}):
    def __call__(self, *args, **kwargs):
        with {app}.app_context():
            return self.run(*args, **kwargs)
"""
_ANNOTATED_TASK_CLASS = """\
class {name}({base}):
    def __call__(self, *args: object, **kwargs: object) -> object:
        with {app}.app_context():
            return self.run(*args, **kwargs)
"""


def add_task_class(
    module: cst.Module,
    line: int,
    column: int,
    *,
    callee: str = "Celery",
    app: str,
    name: str,
    base: str,
    annotated: bool,
) -> cst.Module:
    """``module`` with the class ``name`` that pushes ``app``'s context defined just above the
    statement holding the ``callee(...)`` call at ``line``:``column`` (``Celery(...)``), and that
    call passing it as ``task_cls``."""
    call = _call_at(module, line, column, callee)
    if any(
        arg.keyword is not None and arg.keyword.value == TASK_CLASS_KEYWORD for arg in call.args
    ):
        raise SkipFix(f"the Celery app made at line {line} already passes {TASK_CLASS_KEYWORD}=")
    if any(arg.star for arg in call.args):
        raise SkipFix(f"the Celery(...) call at line {line} unpacks arguments that may set it")
    module = _replace_call(module, call, _with_keyword(call, TASK_CLASS_KEYWORD, name), line)
    chain = statement_chain(module, line)
    if not chain:
        raise SkipFix(f"no statement at line {line}")
    located = chain[-1]
    at_module_level = located.block is module
    template = _ANNOTATED_TASK_CLASS if annotated else _TASK_CLASS
    task_class = cst.parse_statement(
        template.format(name=name, base=base, app=app), config=module.config_for_parsing
    )

    def insert(body: list[Statement]) -> list[Statement]:
        statement = body[located.index]
        outside, comments = _split_leading_lines(statement.leading_lines)
        gap = [cst.EmptyLine(indent=False)] * (2 if at_module_level else 1)
        before_class = gap if at_module_level and located.index > 0 else outside
        added = task_class.with_changes(leading_lines=before_class)
        kept = statement.with_changes(leading_lines=[*gap, *comments])
        return [*body[: located.index], added, kept, *body[located.index + 1 :]]

    return edit_block(module, located.block, insert)


def wrap_function_body(
    module: cst.Module,
    name: str,
    expression: str,
    *,
    before: Sequence[str] = (),
    start: int | None = None,
) -> cst.Module:
    """``module`` with the body of the top-level function ``name`` (after its docstring, or
    from its statement ``start`` on) under ``with <expression>:``, after the ``before`` lines."""
    function = top_level_function(module, name)
    if isinstance(function.body, cst.SimpleStatementSuite):
        module = expand_one_line_body(module, function)
        function = top_level_function(module, name)
    assert isinstance(function.body, cst.IndentedBlock)
    body = function.body.body
    if start is None:
        start = 1 if body and is_docstring_line(body[0]) else 0
    if start >= len(body):
        raise SkipFix(f"{name}() has nothing but a docstring")
    if any(is_context_with(statement) for statement in body[start:]):
        raise SkipFix(f"{name}() already pushes an app context in its body")
    return wrap_statements(module, function.body, start, len(body), expression, before=before)


def _call_at(module: cst.Module, line: int, column: int, callee: str) -> cst.Call:
    """The call of ``callee`` (as written: ``Celery``, ``celery.Celery``) at ``line``:``column``."""
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    for node, where in positions.items():
        if (
            isinstance(node, cst.Call)
            and (where.start.line, where.start.column) == (line, column)
            and module.code_for_node(node.func) == callee
        ):
            return node
    raise SkipFix(f"cannot find the {callee}(...) call at line {line}")


def _replace_call(module: cst.Module, call: cst.Call, new: cst.Call, line: int) -> cst.Module:
    """``module`` with ``call`` replaced, one argument per line if its line got too long: past
    ``MAX_LINE``, or past its own length when it was longer already (black's layout, which
    formatters leave alone)."""
    before = len(module.code.splitlines()[line - 1])
    changed = _replace(module, call, new)
    after = len(changed.code.splitlines()[line - 1])
    if after <= max(MAX_LINE, before) or "\n" in module.code_for_node(call):
        return changed
    return _replace(changed, new, _one_argument_per_line(new, module.default_indent))


def _one_argument_per_line(call: cst.Call, indent: str) -> cst.Call:
    def newline(extra: bool) -> cst.ParenthesizedWhitespace:
        return cst.ParenthesizedWhitespace(
            indent=True, last_line=cst.SimpleWhitespace(indent if extra else "")
        )

    last = len(call.args) - 1
    arguments = [
        arg.with_changes(
            whitespace_after_arg=cst.SimpleWhitespace(""),
            comma=cst.Comma(whitespace_after=newline(extra=i < last)),
        )
        for i, arg in enumerate(call.args)
    ]
    return call.with_changes(args=arguments, whitespace_before_args=newline(extra=True))


def _replace(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    replaced = module.deep_replace(old, new)
    assert isinstance(replaced, cst.Module)
    return replaced


def _with_keyword(call: cst.Call, keyword: str, value: str) -> cst.Call:
    """``call`` with ``keyword=value`` added last, in the call's own layout: on the same line,
    or on a line of its own when the arguments are one per line."""
    added = cst.Arg(
        keyword=cst.Name(keyword),
        value=cst.parse_expression(value),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )
    arguments = list(call.args)
    if not arguments:
        return call.with_changes(args=[added])
    last = arguments[-1]
    multiline = isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace)
    if len(arguments) > 1 and isinstance(arguments[-2].comma, cst.Comma):
        separator = arguments[-2].comma
    elif multiline:
        separator = cst.Comma(whitespace_after=call.whitespace_before_args)
    else:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if isinstance(last.comma, cst.Comma):
        added = added.with_changes(comma=last.comma)
        arguments[-1] = last.with_changes(comma=separator)
    else:
        added = added.with_changes(whitespace_after_arg=last.whitespace_after_arg)
        arguments[-1] = last.with_changes(
            comma=separator, whitespace_after_arg=cst.SimpleWhitespace("")
        )
    return call.with_changes(args=[*arguments, added])


def _split_leading_lines(
    lines: Sequence[cst.EmptyLine],
) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Blank lines up to the first comment, and the rest (the comment that describes the
    statement below it, which stays with it)."""
    for position, line in enumerate(lines):
        if line.comment is not None:
            return list(lines[:position]), list(lines[position:])
    return list(lines), []
