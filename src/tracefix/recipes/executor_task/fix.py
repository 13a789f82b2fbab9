"""The codemods of CTX106, shared with CTX108: hand values to a function another thread runs.

A thread, a timer and a thread pool each pass arguments their own way: ``Thread(target=f,
args=(...))``, ``Timer(t, f, args)``, ``pool.submit(f, ...)`` and ``pool.map(f, items)``, where
the same values go to every call through ``functools.partial``. ``hand_over`` makes every start
of the function pass the new values and gives the function the parameters that take them, so
the two change together.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import edit_block
from tracefix.recipes._codemod import free_name
from tracefix.recipes._codemod import is_call_of
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._imports import add_project_imports
from tracefix.recipes.executor_task import LOCAL_APP_NAMES
from tracefix.recipes.executor_task import POOL_ROLES
from tracefix.recipes.executor_task import RUNNING_APP
from tracefix.recipes.executor_task import Passed
from tracefix.recipes.thread_target import fix as thread_fix
from tracefix.recipes.thread_target.spawns import ARGS_INDEX
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import bound_name

#: Names for the helper that runs a shared task in an app context, in order of preference.
HELPER_NAMES = ("in_app_context", "run_in_app_context")
HELPER = '''
def {name}(app, task, /, *args, **kwargs):
    """Run ``task`` in an app context of ``app``: a thread pool's threads have none."""
    with app.app_context():
        return task(*args, **kwargs)
'''.lstrip()


def hand_over(
    project: Project,
    path: str,
    name: str,
    starts: Sequence[Reference],
    passed: Sequence[Passed],
    *,
    wrap_with: str | None,
    edit_target: Callable[[cst.Module], cst.Module] | None = None,
) -> tuple[FileChange, ...]:
    """The changes that make each of ``starts`` pass ``passed`` to function ``name`` of
    ``path``, which takes them as its first parameters, in order; with ``wrap_with``, its body
    goes under ``with <wrap_with>.app_context():``. ``edit_target`` edits the function's module
    first (it must find what it edits by name, not by line)."""
    if passed and top_level_function(project.cst(path), name).decorators:
        raise SkipFix(f"{name}() is decorated, so new first parameters may not reach it")
    edited: dict[str, cst.Module] = {}
    if passed:
        for start_path in sorted({start.path for start in starts}):
            here = [start for start in starts if start.path == start_path]
            edited[start_path] = _pass_at(project, start_path, here, passed)
    module = edited.get(path) or project.cst(path)
    if edit_target is not None:
        module = edit_target(module)
    for value in reversed(passed):
        module = thread_fix.add_first_parameter(module, name, value.parameter)
    if wrap_with is not None:
        module = thread_fix.wrap_body(module, name, wrap_with)
    edited[path] = module
    return tuple(
        FileChange(p, project.source(p), module.code) for p, module in sorted(edited.items())
    )


def pass_arguments(
    module: cst.Module, line: int, role: str, values: Sequence[str], *, partial: str
) -> cst.Module:
    """``module`` with ``values`` first among the arguments the start at ``line`` passes.

    ``partial`` names ``functools.partial`` in the file, for ``pool.map``.
    """
    if role in ("thread", "timer"):
        for value in reversed(values):
            module = thread_fix.pass_app(module, line, role, value)
        return module
    call = _pool_call(module, line, role)
    arguments = list(call.args)
    if not arguments or arguments[0].keyword is not None or arguments[0].star:
        raise SkipFix(f"cannot tell which function the {role}() call at line {line} runs")
    if any(arg.star == "**" for arg in arguments):
        raise SkipFix(f"the {role}() call at line {line} unpacks keyword arguments")
    first = arguments[0]
    added = [cst.Arg(cst.parse_expression(value)) for value in values]
    if role == "map":
        wrapped = cst.Call(cst.parse_expression(partial), [cst.Arg(first.value), *added])
        arguments[0] = first.with_changes(value=_joined(wrapped))
    else:
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        tail = first.comma if len(arguments) > 1 else cst.MaybeSentinel.DEFAULT
        arguments[0] = first.with_changes(comma=comma)
        added = [arg.with_changes(comma=comma) for arg in added[:-1]] + [
            added[-1].with_changes(comma=tail)
        ]
        arguments[1:1] = added
    new = call.with_changes(args=arguments)
    if is_whole_statement(module, call, line):
        return thread_fix.replace_call(module, call, new, line)
    replaced = module.deep_replace(call, new)
    assert isinstance(replaced, cst.Module)
    return replaced


def _submit_through(
    module: cst.Module,
    line: int,
    role: str,
    helper: str,
    values: Sequence[str],
    partial: str | None,
) -> cst.Module:
    """``module`` with the pool call at ``line`` submitting ``helper`` with ``values`` and
    then its own function: ``pool.submit(helper, app, f, x)``, ``pool.map(partial(helper,
    app, f), items)``."""
    call = _pool_call(module, line, role)
    arguments = list(call.args)
    if not arguments or arguments[0].keyword is not None or arguments[0].star:
        raise SkipFix(f"cannot tell which function the {role}() call at line {line} runs")
    first = arguments[0]
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    handed = [cst.Arg(cst.parse_expression(helper))]
    handed += [cst.Arg(cst.parse_expression(value)) for value in values]
    handed.append(cst.Arg(first.value))
    if role == "map":
        wrapped = cst.Call(cst.parse_expression(partial or "functools.partial"), handed)
        arguments[0] = first.with_changes(value=_joined(wrapped))
    else:
        tail = first.comma if len(arguments) > 1 else cst.MaybeSentinel.DEFAULT
        handed = [arg.with_changes(comma=comma) for arg in handed[:-1]] + [
            handed[-1].with_changes(comma=tail)
        ]
        arguments[0:1] = handed
    new = call.with_changes(args=arguments)
    if is_whole_statement(module, call, line):
        return thread_fix.replace_call(module, call, new, line)
    replaced = module.deep_replace(call, new)
    assert isinstance(replaced, cst.Module)
    return replaced


def passed_keywords(module: cst.Module, line: int, role: str) -> set[str] | None:
    """The keyword arguments the start at ``line`` passes to its function, or ``None`` when it
    cannot tell (``**options``, ``kwargs=options``)."""
    if role in ("thread", "timer"):
        names = {"thread": "Thread", "timer": "Timer"}
        calls = _calls_at(module, line, names[role])
        if len(calls) != 1:
            return None
        call = calls[0]
        positional = [arg for arg in call.args if arg.keyword is None]
        keywords = {arg.keyword.value: arg for arg in call.args if arg.keyword is not None}
        index = ARGS_INDEX[role] + 1
        given = keywords.get("kwargs") or (positional[index] if len(positional) > index else None)
        if given is None:
            return set()
        if not isinstance(given.value, cst.Dict):
            return None
        found = set()
        for element in given.value.elements:
            if not isinstance(element, cst.DictElement) or not isinstance(
                element.key, cst.SimpleString
            ):
                return None
            key = element.key.evaluated_value
            found.add(key if isinstance(key, str) else "")
        return found
    call = _pool_call(module, line, role)
    if any(arg.star == "**" for arg in call.args):
        return None
    return {arg.keyword.value for arg in call.args if arg.keyword is not None}


def submit_through_helper(
    project: Project, name: str, starts: Sequence[Reference]
) -> tuple[FileChange, ...]:
    """The changes that make each pool start of function ``name`` submit a helper instead,
    which pushes an app context of the running app around the call: ``pool.submit(f, x)``
    becomes ``pool.submit(in_app_context, app, f, x)``, with the helper written once in each
    submitting module. ``f`` itself does not change, for the callers that call it directly."""
    changes = []
    for path in sorted({start.path for start in starts}):
        here = [start for start in starts if start.path == path]
        if any(start.function is None for start in here):
            raise SkipFix(f"{name}() is submitted at {path} outside a top-level function")
        helper = free_name(project.cst(path), HELPER_NAMES)
        if helper is None:
            raise SkipFix(f"{path} has no free name for a helper that pushes the app")
        module = _pass_at(project, path, here, [Passed("app", RUNNING_APP)], through=helper)
        first = min(here, key=lambda start: start.line)
        module = _add_helper(module, first.function or "", helper)
        changes.append(FileChange(path, project.source(path), module.code))
    return tuple(changes)


def _add_helper(module: cst.Module, before: str, name: str) -> cst.Module:
    """``module`` with the helper ``name`` defined just before its top-level ``before``."""
    helper = cst.parse_statement(HELPER.format(name=name), config=module.config_for_parsing)
    body = list(module.body)
    index = next(
        i
        for i, statement in enumerate(body)
        if isinstance(statement, cst.FunctionDef) and statement.name.value == before
    )
    two_blank = [cst.EmptyLine(indent=False), cst.EmptyLine(indent=False)]
    helper = helper.with_changes(leading_lines=body[index].leading_lines or two_blank)
    body[index] = body[index].with_changes(leading_lines=two_blank)
    body.insert(index, helper)
    return module.with_changes(body=body)


def _pass_at(
    project: Project,
    path: str,
    starts: Sequence[Reference],
    passed: Sequence[Passed],
    *,
    through: str | None = None,
) -> cst.Module:
    """The module at ``path`` with ``passed`` handed over at each of ``starts``, importing what
    the values need (``current_app``, ``functools``) the way the file already names them.

    A pool task submitted from a function gets the running app through a local variable bound
    just before the statement that submits it, as the pool may take it in a loop or a
    comprehension; a thread, or a task submitted at module level, gets the call written in.
    With ``through``, each start submits that helper with the values and the function.
    """
    module = project.cst(path)
    first_line = min(start.line for start in starts)
    imports: list[str] = []
    current_app = bound_name(project, path, "flask.current_app", first_line)
    if current_app is None and any(value.expression == RUNNING_APP for value in passed):
        imports.append("from flask import current_app")
        current_app = "current_app"
    partial = bound_name(project, path, "functools.partial", first_line)
    if partial is None and any(start.role == "map" for start in starts):
        imports.append("import functools")
        partial = "functools.partial"
    spellings: dict[str, str] = {}
    for root in sorted({value.root for value in passed if value.root is not None}):
        spelling = bound_name(project, path, root, first_line)
        if spelling is None:
            source, _, spelling = root.rpartition(".")
            imports.append(f"from {source} import {spelling}")
        spellings[root] = spelling
    lines = len(module.code.splitlines())
    for text in imports:
        before = statement_chain(module, first_line + len(module.code.splitlines()) - lines)[0]
        module = add_project_imports(project, module, [text], before=before.index)
    shift = len(module.code.splitlines()) - lines
    running_app = f"{current_app}._get_current_object()"
    groups: dict[str | None, list[Reference]] = {}
    for start in starts:
        local = start.function if start.role in POOL_ROLES else None
        groups.setdefault(local, []).append(start)
    for function, here in sorted(groups.items(), key=lambda g: -max(s.line for s in g[1])):
        local = _local_app_name(project, path, function) if function else None
        if function and local is None:
            raise SkipFix(f"{function}() in {path} has no free name for the running app")
        values = [
            (local or running_app)
            if value.expression == RUNNING_APP
            else spellings[value.root] + value.expression
            if value.root is not None
            else value.expression
            for value in passed
        ]
        for start in sorted(here, key=lambda s: s.line, reverse=True):
            line = start.line + shift
            if through is not None:
                module = _submit_through(module, line, start.role, through, values, partial)
            else:
                module = _pass_at_start(module, path, start, line, values, passed, partial)
        if local is not None and any(value.expression == RUNNING_APP for value in passed):
            line = min(start.line for start in here) + shift
            module = _bind_before(module, line, function or "", f"{local} = {running_app}")
    return module


def _pass_at_start(
    module: cst.Module,
    path: str,
    start: Reference,
    line: int,
    values: Sequence[str],
    passed: Sequence[Passed],
    partial: str | None,
) -> cst.Module:
    keywords = passed_keywords(module, line, start.role)
    if keywords is None:
        raise SkipFix(f"the keyword arguments passed at {path}:{start.line} are not written out")
    taken = keywords & {value.parameter for value in passed}
    if taken:
        raise SkipFix(f"{path}:{start.line} already passes {', '.join(sorted(taken))}=")
    return pass_arguments(module, line, start.role, values, partial=partial or "functools.partial")


def _local_app_name(project: Project, path: str, function: str) -> str | None:
    """A name the function does not use yet, for the running app."""
    definition = project.function(path, function)
    if definition is None:
        return None
    used = {node.id for node in ast.walk(definition) if isinstance(node, ast.Name)}
    used |= {arg.arg for arg in ast.walk(definition) if isinstance(arg, ast.arg)}
    used |= {
        (alias.asname or alias.name).split(".")[0]
        for alias in ast.walk(definition)
        if isinstance(alias, ast.alias)
    }
    return next((name for name in LOCAL_APP_NAMES if name not in used), None)


def _bind_before(module: cst.Module, line: int, function: str, text: str) -> cst.Module:
    """``module`` with the statement ``text`` just before the statement of ``function``'s body
    that holds ``line``; the blank lines above that statement move above the new one, its
    comments stay with it."""
    chain = statement_chain(module, line)
    found = [
        position + 1
        for position, outer in enumerate(chain[:-1])
        if isinstance(outer.statement, cst.FunctionDef) and outer.statement.name.value == function
    ]
    if not found:
        raise SkipFix(f"cannot find the statement of {function}() at line {line}")
    inner = chain[found[0]]

    def edit(body: list[Statement]) -> list[Statement]:
        here = body[inner.index]
        lines = list(here.leading_lines)
        blank = next((i for i, empty in enumerate(lines) if empty.comment is not None), len(lines))
        added = cst.parse_statement(text, config=module.config_for_parsing)
        added = added.with_changes(leading_lines=lines[:blank])
        body[inner.index] = here.with_changes(leading_lines=lines[blank:])
        return [*body[: inner.index], added, *body[inner.index :]]

    return edit_block(module, inner.block, edit)


def is_whole_statement(module: cst.Module, call: cst.Call, line: int) -> bool:
    """Whether ``call`` is all its statement computes (``f = pool.submit(...)``), so that
    breaking it one argument per line is the layout black gives it; inside a comprehension or
    a longer expression it is left on its line."""
    chain = statement_chain(module, line)
    statement = chain[-1].statement if chain else None
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    value = (
        small.value
        if isinstance(small, cst.Expr | cst.Assign | cst.AnnAssign | cst.Return)
        else None
    )
    return value is call


def _pool_call(module: cst.Module, line: int, role: str) -> cst.Call:
    calls = _calls_at(module, line, role)
    if len(calls) != 1:
        raise SkipFix(f"cannot find the {role}() call at line {line}")
    return calls[0]


def _calls_at(module: cst.Module, line: int, name: str) -> list[cst.Call]:
    """The calls of ``name`` (a class) or of ``<pool>.name`` (a method) starting at ``line``."""
    method = name.islower()
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return [
        node
        for node in positions
        if is_call_of(node, name)
        and (not method or isinstance(node.func, cst.Attribute))
        and positions[node].start.line == line
    ]


def _joined(call: cst.Call) -> cst.Call:
    """``call`` written ``f(a, b)``: ``cst.Call`` built bare puts no space after its commas."""
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    arguments = [arg.with_changes(comma=comma) for arg in call.args[:-1]] + list(call.args[-1:])
    return call.with_changes(args=arguments)
