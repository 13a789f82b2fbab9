"""The codemods of CTX103: push an app context in a thread target, and hand it the real app."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import expand_one_line_body
from tracefix.recipes._codemod import is_call_of
from tracefix.recipes._codemod import is_context_with
from tracefix.recipes._codemod import is_docstring_line
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._codemod import wrap_statements
from tracefix.recipes.thread_target.spawns import ARGS_INDEX
from tracefix.recipes.thread_target.spawns import THREAD_CLASS_NAMES

#: The longest line a fix writes without breaking a call over several lines (black's default).
MAX_LINE = 88


def pushes_context(function: cst.FunctionDef) -> bool:
    """Whether a statement of ``function``'s body is a ``with <app>.app_context():``."""
    body = function.body.body if isinstance(function.body, cst.IndentedBlock) else ()
    return any(is_context_with(statement) for statement in body)


def wrap_body(module: cst.Module, name: str, app: str) -> cst.Module:
    """``module`` with the body of function ``name`` (after its docstring) under ``with``."""
    function = top_level_function(module, name)
    if isinstance(function.body, cst.SimpleStatementSuite):
        module = expand_one_line_body(module, function)
        function = top_level_function(module, name)
    assert isinstance(function.body, cst.IndentedBlock)
    body = function.body.body
    start = 1 if body and is_docstring_line(body[0]) else 0
    if start == len(body):
        raise SkipFix(f"{name}() has nothing but a docstring")
    return wrap_statements(module, function.body, start, len(body), f"{app}.app_context()")


def add_first_parameter(module: cst.Module, name: str, parameter: str) -> cst.Module:
    """``module`` with ``parameter`` first in the parameters of function ``name``."""
    function = top_level_function(module, name)
    params = function.params
    if params.posonly_params:
        first = params.posonly_params[0]
        added = cst.Param(cst.Name(parameter), comma=_comma_like(first.comma))
        params = params.with_changes(posonly_params=[added, *params.posonly_params])
    else:
        existing = params.params
        comma = _comma_like(existing[0].comma) if existing else cst.MaybeSentinel.DEFAULT
        if len(existing) == 1 and isinstance(comma, cst.Comma):
            comma = cst.Comma(whitespace_after=function.whitespace_before_params)
        params = params.with_changes(
            params=[cst.Param(cst.Name(parameter), comma=comma), *existing]
        )
    return _replace(module, function, function.with_changes(params=params))


def pass_app(module: cst.Module, line: int, kind: str, app: str) -> cst.Module:
    """``module`` with ``app`` first among the arguments the thread or timer at ``line`` passes.

    ``Thread(target=f, args=(x,))`` becomes ``Thread(target=f, args=(app, x))``; a call without
    ``args`` gets ``args=(app,)`` after its target. Raises ``SkipFix`` when the arguments are
    not written out (``args=values``, ``*rest``, ``**options``) or ``kwargs`` may pass ``app``.
    """
    call = _spawn_call(module, line, kind)
    arguments = list(call.args)
    if any(arg.star for arg in arguments):
        raise SkipFix(f"the {THREAD_CLASS_NAMES[kind]}() call at line {line} unpacks its arguments")
    positional = [arg for arg in arguments if arg.keyword is None]
    keywords = {arg.keyword.value: arg for arg in arguments if arg.keyword is not None}
    _check_kwargs(keywords.get("kwargs"), positional, kind, line)
    value = cst.parse_expression(app)
    index = ARGS_INDEX[kind]
    if len(positional) > index or "args" in keywords:
        current = positional[index] if len(positional) > index else keywords["args"]
        new = current.with_changes(value=_prepend(current.value, value, line))
        arguments = [new if arg is current else arg for arg in arguments]
        return replace_call(module, call, call.with_changes(args=arguments), line)
    handed = keywords.get("target" if kind == "thread" else "function")
    if handed is None:
        handed = positional[1] if len(positional) > 1 else None
    if handed is None:
        raise SkipFix(f"cannot tell what the {THREAD_CLASS_NAMES[kind]}() at line {line} runs")
    added = cst.Arg(
        keyword=cst.Name("args"),
        value=cst.Tuple([cst.Element(value, comma=cst.Comma())]),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        comma=handed.comma,
    )
    arguments.insert(arguments.index(handed) + 1, added)
    return replace_call(module, call, call.with_changes(args=arguments), line)


def replace_call(module: cst.Module, call: cst.Call, new: cst.Call, line: int) -> cst.Module:
    """``module`` with ``call`` replaced, one argument per line if its line got too long.

    Too long is past ``MAX_LINE`` or, in a file that already has longer lines, past the line's
    own length before the change; the layout is black's, so formatters leave it alone.
    """
    before = len(module.code.splitlines()[line - 1])
    changed = _replace(module, call, new)
    after = len(changed.code.splitlines()[line - 1])
    if after <= max(MAX_LINE, before) or "\n" in module.code_for_node(call):
        return changed
    return _replace(changed, new, _one_argument_per_line(new, module.default_indent))


def _one_argument_per_line(call: cst.Call, indent: str) -> cst.Call:
    def newline(extra: str) -> cst.ParenthesizedWhitespace:
        return cst.ParenthesizedWhitespace(indent=True, last_line=cst.SimpleWhitespace(extra))

    arguments = [
        arg.with_changes(
            whitespace_after_arg=cst.SimpleWhitespace(""),
            comma=cst.Comma(whitespace_after=newline(indent if i < len(call.args) - 1 else "")),
        )
        for i, arg in enumerate(call.args)
    ]
    return call.with_changes(args=arguments, whitespace_before_args=newline(indent))


def _spawn_call(module: cst.Module, line: int, kind: str) -> cst.Call:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    class_name = THREAD_CLASS_NAMES[kind]
    calls = [
        node
        for node in positions
        if is_call_of(node, class_name) and positions[node].start.line == line
    ]
    if len(calls) != 1:
        raise SkipFix(f"cannot find the {class_name}() call at line {line}")
    return calls[0]


def _check_kwargs(kwargs: cst.Arg | None, positional: list[cst.Arg], kind: str, line: int) -> None:
    if kwargs is None and len(positional) > ARGS_INDEX[kind] + 1:
        kwargs = positional[ARGS_INDEX[kind] + 1]
    if kwargs is None:
        return
    value = kwargs.value
    if not isinstance(value, cst.Dict) or any(
        not isinstance(element, cst.DictElement) for element in value.elements
    ):
        raise SkipFix(f"the keyword arguments of the thread at line {line} are not written out")
    for element in value.elements:
        assert isinstance(element, cst.DictElement)
        key = element.key
        if isinstance(key, cst.SimpleString) and key.evaluated_value == "app":
            raise SkipFix(f"the thread at line {line} already passes app= to its target")


def _prepend(
    sequence: cst.BaseExpression, value: cst.BaseExpression, line: int
) -> cst.BaseExpression:
    if not isinstance(sequence, cst.Tuple | cst.List):
        raise SkipFix(f"the arguments of the thread at line {line} are not a tuple or list")
    elements = list(sequence.elements)
    if not elements:
        comma = cst.Comma() if isinstance(sequence, cst.Tuple) else cst.MaybeSentinel.DEFAULT
        return sequence.with_changes(elements=[cst.Element(value, comma=comma)])
    first = elements[0]
    if len(elements) == 1 and isinstance(sequence, cst.Tuple):
        elements[0] = first.with_changes(comma=cst.MaybeSentinel.DEFAULT)
    added = cst.Element(value, comma=_comma_like(first.comma, always=True))
    return sequence.with_changes(elements=[added, *elements])


def _comma_like(
    comma: cst.Comma | cst.MaybeSentinel, *, always: bool = False
) -> cst.Comma | cst.MaybeSentinel:
    """The comma for an item put before one followed by ``comma``: the same when it breaks the
    line (one item per line), else the plain ``, ``."""
    if isinstance(comma, cst.Comma) and isinstance(
        comma.whitespace_after, cst.ParenthesizedWhitespace
    ):
        return comma
    if always:
        return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    return cst.MaybeSentinel.DEFAULT


def _replace(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    replaced = module.deep_replace(old, new)
    assert isinstance(replaced, cst.Module)
    return replaced
