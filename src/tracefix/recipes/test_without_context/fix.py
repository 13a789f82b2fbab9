"""The codemods of CTX104: request the app fixture, push its context, or add the fixture."""

from __future__ import annotations

import ast
import sys

import libcst as cst

from tracefix.diagnose.apps import AppSource
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import add_imports
from tracefix.recipes._codemod import edit_block
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._codemod import wrap_statements
from tracefix.recipes.test_without_context.unittest_cases import CONTEXT_ATTRIBUTE
from tracefix.recipes.test_without_context.unittest_cases import SetUp


def add_parameter(module: cst.Module, function_name: str, name: str) -> cst.Module:
    """``module`` with ``name`` as the last positional parameter of ``function_name``.

    pytest passes fixtures by name, so the position only has to be valid Python: after the
    other plain parameters, before any with a default.
    """
    function = top_level_function(module, function_name)
    params = list(function.params.params)
    position = next((i for i, p in enumerate(params) if p.default is not None), len(params))
    comma: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
    if position == len(params) and params and _breaks_line(params[-1].comma):
        comma = params[-1].comma
        before = (
            params[-2].comma
            if len(params) > 1
            else cst.Comma(whitespace_after=function.whitespace_before_params)
        )
        params[-1] = params[-1].with_changes(comma=before)
    added = cst.Param(cst.Name(name), comma=comma)
    last = params[-1] if position == len(params) and params else None
    if last is not None and isinstance(last.whitespace_after_param, cst.ParenthesizedWhitespace):
        added = added.with_changes(whitespace_after_param=last.whitespace_after_param)
        params[-1] = last.with_changes(
            whitespace_after_param=cst.SimpleWhitespace(""),
            comma=cst.Comma(whitespace_after=function.whitespace_before_params),
        )
    params.insert(position, added)
    new = function.with_changes(params=function.params.with_changes(params=params))
    replaced = module.deep_replace(function, new)
    assert isinstance(replaced, cst.Module)
    return replaced


def add_usefixtures(module: cst.Module, function_name: str, names: list[str]) -> cst.Module:
    """``module`` with ``@pytest.mark.usefixtures(...)`` on ``function_name`` requesting
    ``names``: added to the function's own ``usefixtures`` mark when it has one, else a new mark
    above its other decorators. The module must bind ``pytest`` (``import pytest``)."""
    function = top_level_function(module, function_name)
    quote = "'" if "usefixtures('" in module.code and 'usefixtures("' not in module.code else '"'
    strings = [cst.SimpleString(f"{quote}{name}{quote}") for name in names]
    decorators = list(function.decorators)
    for index, decorator in enumerate(decorators):
        call = decorator.decorator
        if isinstance(call, cst.Call) and _is_usefixtures(call.func):
            args = list(call.args)
            if args:
                last = args[-1]
                args[-1] = last.with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                    if last.comma == cst.MaybeSentinel.DEFAULT
                    else last.comma
                )
            args += [
                cst.Arg(
                    s,
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                    if i < len(strings) - 1
                    else cst.MaybeSentinel.DEFAULT,
                )
                for i, s in enumerate(strings)
            ]
            decorators[index] = decorator.with_changes(decorator=call.with_changes(args=args))
            break
    else:
        mark = cst.parse_expression(
            "pytest.mark.usefixtures(" + ", ".join(s.value for s in strings) + ")"
        )
        decorators.insert(0, cst.Decorator(mark))
    first = function.with_changes(decorators=decorators)
    replaced = module.deep_replace(function, first)
    assert isinstance(replaced, cst.Module)
    return replaced


def _is_usefixtures(func: cst.BaseExpression) -> bool:
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == "usefixtures"
        and isinstance(func.value, cst.Attribute)
        and func.value.attr.value == "mark"
    )


def wrap_from(module: cst.Module, owner: str, line: int, app: str) -> cst.Module:
    """``module`` with the test's statements from the one at ``line`` to the end under
    ``with <app>.app_context():``. The statements before it ran without a context already.
    ``owner`` is the test function, or the class of the test method, the line is in."""
    chain = statement_chain(module, line)
    depth = next((i for i, c in enumerate(chain) if isinstance(c.statement, cst.FunctionDef)), 2)
    top = chain[0].statement if chain else None
    if (
        depth > 1
        or len(chain) < depth + 2
        or not isinstance(top, cst.FunctionDef | cst.ClassDef)
        or top.name.value != owner
    ):
        raise SkipFix(f"line {line} is not a statement of {owner}")
    block = chain[depth + 1].block
    return wrap_statements(
        module, block, chain[depth + 1].index, len(block.body), f"{app}.app_context()"
    )


def fixture_code(name: str, source: AppSource, instance: str | None = None) -> str:
    """A fixture ``name`` giving the project's app: a fresh one from the factory, set up for
    testing as Flask's testing docs do, or the module-level instance (imported as ``instance``)."""
    if source.kind == "instance":
        return f"@pytest.fixture\ndef {name}():\n    yield {instance or source.name}\n"
    return (
        f"@pytest.fixture\ndef {name}():\n"
        f"    {name} = {source.call}\n"
        f'    {name}.config.update({{"TESTING": True}})\n'
        f"    yield {name}\n"
    )


def fixture_imports(source: AppSource, instance: str | None = None) -> list[str]:
    """The imports the fixture needs, standard library first (isort's sections)."""
    own = (
        f"from {source.module} import {source.name} as {instance}"
        if instance and instance != source.name
        else source.import_statement
    )
    stdlib = [i for i in source.imports if _top_module(i) in sys.stdlib_module_names]
    others = [i for i in source.imports if i not in stdlib]
    return [*stdlib, "import pytest", *sorted({*others, own}, key=_module_of)]


def new_conftest(fixture: str, imports: list[str]) -> str:
    stdlib = [i for i in imports if _top_module(i) in sys.stdlib_module_names]
    third = [i for i in imports if _top_module(i) == "pytest"]
    own = [i for i in imports if i not in stdlib and i not in third]
    sections = ["\n".join(section) for section in (stdlib, third, own) if section]
    return "\n\n".join(sections) + "\n\n\n" + fixture


def add_fixture(module: cst.Module, fixture: str, imports: list[str]) -> cst.Module:
    """``module`` (a conftest) with ``imports`` and the ``fixture`` at its end."""
    module = add_imports(module, imports, before=len(module.body))
    added = cst.parse_statement(fixture, config=module.config_for_parsing)
    added = added.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    return module.with_changes(body=[*module.body, added])


def _breaks_line(comma: cst.Comma | cst.MaybeSentinel) -> bool:
    return isinstance(comma, cst.Comma) and isinstance(
        comma.whitespace_after, cst.ParenthesizedWhitespace
    )


def _module_of(statement: str) -> str:
    """The module an import statement names, as isort orders a section by it."""
    return statement.split()[1].lower()


def _top_module(statement: str) -> str:
    words = statement.split()
    return words[1].split(".")[0] if len(words) > 1 else ""


def push_in_set_up(module: cst.Module, set_up: SetUp) -> cst.Module:
    """``module`` with the ``setUp`` of ``set_up`` pushing its app's context (after the line that
    keeps the context, else after the line that makes the app) and ``tearDown`` popping it, as
    the ``unittest`` suites of microblog and Flasky do."""
    context = set_up.context or CONTEXT_ATTRIBUTE
    keeps = [f"self.{context}.push()"]
    after = set_up.made.lineno
    if set_up.context is None:
        keeps.insert(0, f"self.{context} = self.{set_up.app}.app_context()")
    else:
        after = next(s.lineno for s in set_up.function.body if _assigns_self(s, set_up.context))
    chain = statement_chain(module, after)
    if len(chain) != 3:
        raise SkipFix(f"cannot find {set_up.cls.name}.setUp()'s line {after}")
    located = chain[2]
    added = [cst.parse_statement(text, config=module.config_for_parsing) for text in keeps]
    module = edit_block(
        module,
        located.block,
        lambda body: [*body[: located.index + 1], *added, *body[located.index + 1 :]],
    )
    return _pop_in_tear_down(module, set_up.cls.name, context)


def _pop_in_tear_down(module: cst.Module, class_name: str, context: str) -> cst.Module:
    cls = next(s for s in module.body if isinstance(s, cst.ClassDef) and s.name.value == class_name)
    assert isinstance(cls.body, cst.IndentedBlock)
    methods = [s for s in cls.body.body if isinstance(s, cst.FunctionDef)]
    pop = cst.parse_statement(f"self.{context}.pop()", config=module.config_for_parsing)
    tear_down = next((f for f in methods if f.name.value == "tearDown"), None)
    if tear_down is not None:
        if f"self.{context}.pop()" in module.code_for_node(tear_down):
            return module
        assert isinstance(tear_down.body, cst.IndentedBlock)
        return edit_block(module, tear_down.body, lambda body: [*body, pop])
    set_up = next(f for f in methods if f.name.value == "setUp")
    new = cst.parse_statement(
        f"def tearDown(self):\n    self.{context}.pop()\n", config=module.config_for_parsing
    ).with_changes(leading_lines=[cst.EmptyLine()])
    position = list(cls.body.body).index(set_up) + 1
    return edit_block(module, cls.body, lambda body: [*body[:position], new, *body[position:]])


def _assigns_self(statement: ast.stmt, attribute: str) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Attribute)
        and statement.targets[0].attr == attribute
    )


def push_kept_context(module: cst.Module, line: int, context: str, popped: bool) -> cst.Module:
    """``module`` with the context that the fixture's statement at ``line`` keeps as
    ``context`` pushed right after it and, unless the fixture pops it already, popped after
    its ``yield``: ``ctx = app.test_request_context()``, ``ctx.push()``, ``yield app``,
    ``ctx.pop()``, as cookiecutter-flask's, FlaskBB's and flask-realworld's fixtures are."""
    chain = statement_chain(module, line)
    if len(chain) != 2 or not isinstance(chain[0].statement, cst.FunctionDef):
        raise SkipFix(f"cannot find the fixture statement at line {line}")
    made = chain[1]
    given = next(
        (i for i, statement in enumerate(made.block.body) if i > made.index and _yields(statement)),
        None,
    )
    if not popped and given is None:
        raise SkipFix(
            f"the fixture returns rather than yields: a `{context}.push()` there would never be "
            "popped, and the next test would run inside this one's context"
        )

    def parse(text: str) -> Statement:
        return cst.parse_statement(text, config=module.config_for_parsing)

    pop = parse(f"{context}.pop()")
    # Where the pop's own line was deleted and its blank line above it kept, the fixture ends
    # in one blank line too many (the next statement's third): the pop takes it back.
    after = chain[0].index + 1
    following = module.body[after] if after < len(module.body) else None
    spare = (
        following is not None
        and given == len(made.block.body) - 1
        and len(following.leading_lines) >= 3
        and following.leading_lines[0].comment is None
    )
    if spare:
        pop = pop.with_changes(leading_lines=[cst.EmptyLine(indent=False)])

    def edit(body: list[Statement]) -> list[Statement]:
        edited: list[Statement] = []
        for index, statement in enumerate(body):
            edited.append(statement)
            if index == made.index:
                edited.append(parse(f"{context}.push()"))
            if index == given and not popped:
                edited.append(pop)
        return edited

    module = edit_block(module, made.block, edit)
    if spare and not popped and following is not None:
        less = following.with_changes(leading_lines=following.leading_lines[1:])
        module = module.with_changes(body=[*module.body[:after], less, *module.body[after + 1 :]])
    return module


def _yields(statement: cst.BaseStatement) -> bool:
    """Whether ``statement`` is ``yield x`` on its own line."""
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.Yield)
    )
