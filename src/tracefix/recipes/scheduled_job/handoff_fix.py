"""The LibCST side of the handoff recipes (CTX113-CTX116): push a context in a handed-over
function, pass it the app where it is handed over, or hand over a wrapper instead.

Loaded only by the recipes' ``fix``: diagnosing and ``tracefix scan`` read code with ``ast``
(``handoff.py``) and never pay LibCST's import.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.diagnose.apps import app_name_at
from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import edit_block
from tracefix.recipes._codemod import expand_one_line_body
from tracefix.recipes._codemod import is_docstring_line
from tracefix.recipes._codemod import names_used
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._codemod import wrap_statements
from tracefix.recipes._imports import add_project_imports
from tracefix.recipes.scheduled_job.handoff import Handoff
from tracefix.recipes.scheduled_job.handoff import app_at_site
from tracefix.recipes.scheduled_job.handoff import check_unshadowed
from tracefix.recipes.scheduled_job.handoff import describe
from tracefix.recipes.scheduled_job.handoff import uses_persistent_jobstore
from tracefix.recipes.thread_target import all_names
from tracefix.recipes.thread_target import is_factory_made
from tracefix.recipes.thread_target.fix import add_first_parameter
from tracefix.recipes.thread_target.spawns import bound_name

#: The parameter a fix gives a function to receive the app, when it passes the app along.
APP_PARAMETER = "app"


#: The longest line a fix writes without breaking a call over several lines (black's default).
MAX_LINE = 88


def wrap_with_app(project: Project, path: str, name: str, app: str) -> FileChange:
    """``path`` with the body of ``name`` under ``with <app>.app_context():``."""
    module = wrap_body(project.cst(path), name, app)
    return FileChange(path, project.source(path), module.code)


def wrap_body(module: cst.Module, name: str, app: str, *, before: Sequence[str] = ()) -> cst.Module:
    """``module`` with the body of function ``name`` under ``with <app>.app_context():``, after
    the ``before`` lines; its docstring and its ``global``/``nonlocal`` declarations stay first,
    above them."""
    function = top_level_function(module, name)
    if isinstance(function.body, cst.SimpleStatementSuite):
        module = expand_one_line_body(module, function)
        function = top_level_function(module, name)
    assert isinstance(function.body, cst.IndentedBlock)
    body = function.body.body
    start = 1 if body and is_docstring_line(body[0]) else 0
    while start < len(body) and _is_declaration(body[start]):
        start += 1
    if start == len(body):
        raise SkipFix(f"{name}() has nothing to put under a context")
    return wrap_statements(
        module, function.body, start, len(body), f"{app}.app_context()", before=before
    )


def _is_declaration(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, cst.Global | cst.Nonlocal) for small in statement.body
    )


def pass_app(
    project: Project, path: str, function: ast.FunctionDef, sites: dict[Handoff, str]
) -> tuple[FileChange, ...]:
    """Hand each site's app (``sites``: handoff -> the app's expression there) to the function,
    which gets ``app`` as its first parameter and its body under ``with app.app_context():``."""
    name = function.name
    if function.decorator_list:
        raise SkipFix(f"{name}() is decorated, so a new first parameter may not reach it")
    if APP_PARAMETER in all_names(function):
        raise SkipFix(f"{name}() already uses the name {APP_PARAMETER!r}")
    edited: dict[str, cst.Module] = {}
    for site_path in sorted({site.path for site in sites}):
        module = project.cst(site_path)
        here = sorted((s for s in sites if s.path == site_path), key=lambda s: (s.line, s.column))
        shift = 0
        for site in here:
            expression = sites[site]
            if expression.startswith("current_app."):
                module, expression, added = _with_current_app(project, module, site)
                shift += added
            if site.passing == "partial":
                module, added = _with_functools(project, module, site, shift)
                shift += added
            module = pass_app_at(module, site, expression, shift)
        edited[site_path] = module
    module = edited.get(path) or project.cst(path)
    module = add_first_parameter(module, name, APP_PARAMETER)
    edited[path] = wrap_body(module, name, APP_PARAMETER)
    return tuple(FileChange(p, project.source(p), m.code) for p, m in sorted(edited.items()))


def fix_with_app(
    project: Project,
    path: str,
    function: ast.FunctionDef,
    handoffs: Sequence[Handoff],
    *,
    current_app: bool = False,
) -> tuple[FileChange, ...]:
    """Push an app context in ``function``, handed over at ``handoffs``, with the project's app.

    The module's own app (``app = Flask(__name__)``, ``from app import app``) when it has one and
    either the project makes no app with a factory or the app at every handoff is that same
    one; otherwise the app at hand where the function is handed over (a ``create_app``'s
    local, a worker's ``app = create_app()``, with ``current_app`` the running app of a view),
    passed as a new first argument. Never a second app made in the function: it would lose the
    running app's configuration (a test's database, say).
    """
    name = function.name
    module_app = app_name_in_scope(project, path)
    sites = _sites_with_app(project, handoffs, current_app=current_app)
    if module_app is not None and (
        sites is None
        or not is_factory_made(project)
        or all(site.path == path and app == module_app for site, app in sites.items())
    ):
        check_unshadowed(function, module_app)
        return (wrap_with_app(project, path, name, module_app),)
    if sites is None:
        raise SkipFix(_no_app_reason(project, function, path, handoffs, current_app=current_app))
    return pass_app(project, path, function, sites)


def register_wrapper(
    project: Project, function: ast.FunctionDef, handoffs: Sequence[Handoff], why: str
) -> tuple[FileChange, ...]:
    """Hand over, in ``function``'s place, a wrapper that calls it in an app context.

    For a function that other code also calls (a view, a test), where pushing a context inside
    it would change those callers: the one place that hands it to the runner gets
    ``<name>_in_app_context``, defined just above that place with the app at hand there (the
    module's, a factory's local, one imported the project's way), which calls the function
    under ``with app.app_context():`` with the arguments it is given. ``why`` ends its
    docstring: what calls it without a context ("the scheduler runs its jobs without one").
    """
    name = function.name
    if len(handoffs) != 1 or handoffs[0].form != "argument":
        raise SkipFix(
            f"{name}() is handed over at {describe(handoffs)}; a wrapper is registered only "
            "in place of a single handoff written as an argument"
        )
    [site] = handoffs
    app = app_name_at(project, site.path, site.line)
    imports: list[str] = []
    if app is None:
        source = find_app_source(project, near=site.path)
        if source is None or source.kind != "instance" or is_factory_made(project):
            raise SkipFix(
                f"there is no app at {site.path}:{site.line} to push for {name}(), and making "
                "one there would not be the running app"
            )
        app, imports = source.name, [source.import_statement]
    wrapper = f"{name}_in_app_context"
    module = project.cst(site.path)
    if wrapper in names_used(module):
        raise SkipFix(f"{site.path} already uses the name {wrapper!r}")
    shift = 0
    if imports:
        before = statement_chain(module, site.line)[0].index
        lines = len(module.code.splitlines())
        module = add_project_imports(project, module, imports, before=before)
        shift = len(module.code.splitlines()) - lines
    call = _call_at(module, (site.line + shift, site.column), (site.end[0] + shift, site.end[1]))
    index = _handed_index(call, site)
    arguments = list(call.args)
    handed = arguments[index]
    callee = module.code_for_node(handed.value)
    arguments[index] = handed.with_changes(value=cst.Name(wrapper))
    module = _replace(module, call, call.with_changes(args=arguments))
    definition = cst.parse_statement(
        f"def {wrapper}(*args, **kwargs):\n"
        f'    """{callee}() in an app context: {why}."""\n'
        f"    with {app}.app_context():\n"
        f"        return {callee}(*args, **kwargs)\n",
        config=module.config_for_parsing,
    )
    located = statement_chain(module, site.line + shift)[-1]
    separator = [cst.EmptyLine(indent=False)] * (2 if located.block is module else 1)

    def insert(body: list[Statement]) -> list[Statement]:
        statement = body[located.index]
        above = list(statement.leading_lines)
        blanks = next((i for i, line in enumerate(above) if line.comment is not None), len(above))
        new = definition.with_changes(leading_lines=separator if located.index else above)
        return [
            *body[: located.index],
            new,
            statement.with_changes(leading_lines=[*separator, *above[blanks:]]),
            *body[located.index + 1 :],
        ]

    module = edit_block(module, located.block, insert)
    return (FileChange(site.path, project.source(site.path), module.code),)


def _sites_with_app(
    project: Project, handoffs: Sequence[Handoff], *, current_app: bool
) -> dict[Handoff, str] | None:
    """Each handoff with the app to pass there, or ``None`` if one cannot pass it."""
    sites: dict[Handoff, str] = {}
    for handoff in handoffs:
        if handoff.form != "argument" or handoff.passing is None:
            return None
        if handoff.passing == "args" and uses_persistent_jobstore(project):
            return None
        app = app_at_site(project, handoff, current_app=current_app)
        if app is None:
            return None
        sites[handoff] = app
    return sites


def _no_app_reason(
    project: Project,
    function: ast.FunctionDef,
    path: str,
    handoffs: Sequence[Handoff],
    *,
    current_app: bool,
) -> str:
    name = function.name
    for handoff in handoffs:
        if handoff.form != "argument" or handoff.passing is None:
            how = "by a decorator" if handoff.form == "decorator" else "there"
            return (
                f"{path} has no app to push, and {name}() cannot be handed one where it is "
                f"registered ({handoff.path}:{handoff.line}, {how})"
            )
        if handoff.passing == "args" and uses_persistent_jobstore(project):
            return (
                f"the project configures a job store, which pickles job arguments, so {name}() "
                f"cannot be passed the app, and {path} has no app of its own"
            )
    missing = "no app at hand nor an active app context" if current_app else "no app at hand"
    return (
        f"{path} has no app to push, and where {name}() is handed over ({describe(handoffs)}) "
        f"there is {missing} to pass it; making a second app there would lose the running "
        "app's configuration"
    )


def pass_app_at(module: cst.Module, site: Handoff, app: str, shift: int = 0) -> cst.Module:
    """``module`` with ``app`` handed to the function at ``site`` as its first argument."""
    call = _call_at(module, (site.line + shift, site.column), (site.end[0] + shift, site.end[1]))
    value = cst.parse_expression(app)
    arguments = list(call.args)
    if site.passing == "after":
        index = _handed_index(call, site)
        if any(arg.star for arg in arguments[: index + 1]):
            raise SkipFix(f"the call at {site.path}:{site.line} unpacks its arguments")
        handed = arguments[index]
        comma = handed.comma if isinstance(handed.comma, cst.Comma) else cst.MaybeSentinel.DEFAULT
        arguments[index] = handed.with_changes(comma=_comma_after(handed.comma))
        arguments.insert(index + 1, cst.Arg(value, comma=comma))
    elif site.passing == "partial":
        index = _handed_index(call, site)
        handed = arguments[index]
        functools = _functools_name(module)
        partial = cst.Call(
            cst.parse_expression(f"{functools}.partial"),
            args=[
                cst.Arg(handed.value, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                cst.Arg(value),
            ],
        )
        arguments[index] = handed.with_changes(value=partial)
    elif site.passing == "args":
        if any(arg.star for arg in arguments):
            raise SkipFix(f"the call at {site.path}:{site.line} unpacks its arguments")
        arguments = _prepend_to_args(arguments, value, site)
    else:
        raise SkipFix(f"the app cannot be passed through the call at {site.path}:{site.line}")
    return _replace_call(module, call, call.with_changes(args=arguments), site.line + shift)


def _handed_index(call: cst.Call, site: Handoff) -> int:
    """The index, in ``call.args``, of the positional argument that hands the function over."""
    positional = [i for i, arg in enumerate(call.args) if arg.keyword is None]
    if len(positional) > site.position and not any(
        call.args[i].star for i in positional[: site.position + 1]
    ):
        return positional[site.position]
    raise SkipFix(f"the function is not passed positionally at {site.path}:{site.line}")


def _prepend_to_args(
    arguments: list[cst.Arg], value: cst.BaseExpression, site: Handoff
) -> list[cst.Arg]:
    """APScheduler's ``add_job(..., args=[x])`` with ``value`` first in ``args``; ``args=[value]``
    added when there is none. Only written-out lists and tuples are changed."""
    keywords = {arg.keyword.value: arg for arg in arguments if arg.keyword is not None}
    if "kwargs" in keywords:
        kwargs = keywords["kwargs"].value
        if not isinstance(kwargs, cst.Dict) or any(
            isinstance(element, cst.DictElement)
            and isinstance(element.key, cst.SimpleString)
            and element.key.evaluated_value == APP_PARAMETER
            for element in kwargs.elements
        ):
            raise SkipFix(f"the job's kwargs at {site.path}:{site.line} may already pass an app")
    positional = [arg for arg in arguments if arg.keyword is None]
    args_position = 2 if site.runner == "apscheduler" else None
    current = keywords.get("args")
    if current is None and args_position is not None and len(positional) > args_position:
        current = positional[args_position]
    if current is not None:
        sequence = current.value
        if not isinstance(sequence, cst.List | cst.Tuple):
            raise SkipFix(f"the job's args at {site.path}:{site.line} are not a list or tuple")
        elements = list(sequence.elements)
        if elements and len(elements) == 1 and isinstance(sequence, cst.Tuple):
            elements[0] = elements[0].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        first = cst.Element(
            value,
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            if elements
            else (cst.Comma() if isinstance(sequence, cst.Tuple) else cst.MaybeSentinel.DEFAULT),
        )
        new = current.with_changes(value=sequence.with_changes(elements=[first, *elements]))
        return [new if arg is current else arg for arg in arguments]
    last = arguments[-1]
    multiline = isinstance(last.comma, cst.Comma) and isinstance(
        last.comma.whitespace_after, cst.ParenthesizedWhitespace
    )
    added = cst.Arg(
        cst.List([cst.Element(value)]),
        keyword=cst.Name("args"),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        comma=last.comma if multiline else cst.MaybeSentinel.DEFAULT,
    )
    if multiline:
        return [*arguments, added]
    return [
        *arguments[:-1],
        last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
        added,
    ]


def _with_functools(
    project: Project, module: cst.Module, site: Handoff, shift: int
) -> tuple[cst.Module, int]:
    """``module`` importing ``functools`` (for ``functools.partial``), and the lines added."""
    if _functools_name(module) != "functools" or "import functools" in module.code:
        return module, 0
    before = statement_chain(module, site.line + shift)[0].index
    lines = len(module.code.splitlines())
    module = add_project_imports(project, module, ["import functools"], before=before)
    return module, len(module.code.splitlines()) - lines


def _functools_name(module: cst.Module) -> str:
    """How ``module`` names the ``functools`` module: its alias, else ``functools``."""
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        if cst.helpers.get_full_name_for_node(alias.name) == "functools":
                            if alias.asname is not None:
                                return cst.helpers.get_full_name_for_node(alias.asname.name) or ""
                            return "functools"
    return "functools"


def _with_current_app(
    project: Project, module: cst.Module, site: Handoff
) -> tuple[cst.Module, str, int]:
    """``module`` able to name ``flask.current_app`` at ``site``, the expression of the real
    app there, and how many lines the import added."""
    name = bound_name(project, site.path, "flask.current_app", site.line)
    if name is not None:
        return module, f"{name}._get_current_object()", 0
    before = statement_chain(module, site.line)[0].index
    lines = len(module.code.splitlines())
    module = add_project_imports(project, module, ["from flask import current_app"], before=before)
    return module, "current_app._get_current_object()", len(module.code.splitlines()) - lines


def _call_at(module: cst.Module, start: tuple[int, int], end: tuple[int, int]) -> cst.Call:
    """The call that spans exactly from ``start`` to ``end`` (line, 0-based column)."""
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    calls = [
        node
        for node in positions
        if isinstance(node, cst.Call)
        and (positions[node].start.line, positions[node].start.column) == start
        and (positions[node].end.line, positions[node].end.column) == end
    ]
    if len(calls) != 1:
        raise SkipFix(f"cannot find the call at line {start[0]}")
    return calls[0]


def _replace_call(module: cst.Module, call: cst.Call, new: cst.Call, line: int) -> cst.Module:
    """``module`` with ``call`` replaced, one argument per line if its line grew too long: past
    ``MAX_LINE``, or past its own length when the file already has longer lines (black's
    layout, so formatters leave it alone)."""
    text = module.code.splitlines()[line - 1]
    changed = _replace(module, call, new)
    after = len(changed.code.splitlines()[line - 1])
    if after <= max(MAX_LINE, len(text)) or "\n" in module.code_for_node(call):
        return changed
    if not _opens_no_bracket_before(text, module.code_for_node(call)):
        return changed  # inside a comprehension or another call: a formatter lays that out
    indent = module.default_indent

    def newline(extra: str) -> cst.ParenthesizedWhitespace:
        return cst.ParenthesizedWhitespace(indent=True, last_line=cst.SimpleWhitespace(extra))

    last = len(new.args) - 1
    arguments = [
        arg.with_changes(
            whitespace_after_arg=cst.SimpleWhitespace(""),
            comma=cst.Comma(whitespace_after=newline(indent if i < last else "")),
        )
        for i, arg in enumerate(new.args)
    ]
    laid_out = new.with_changes(args=arguments, whitespace_before_args=newline(indent))
    return _replace(changed, new, laid_out)


def _opens_no_bracket_before(line: str, call: str) -> bool:
    """Whether ``call`` on ``line`` is not inside a bracket opened earlier on the line."""
    start = line.find(call.split("(", 1)[0])
    prefix = line[:start] if start >= 0 else line
    return sum(prefix.count(c) for c in "([{") == sum(prefix.count(c) for c in ")]}")


def _comma_after(comma: cst.Comma | cst.MaybeSentinel) -> cst.Comma:
    if isinstance(comma, cst.Comma):
        return comma
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _replace(module: cst.Module, old: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    replaced = module.deep_replace(old, new)
    assert isinstance(replaced, cst.Module)
    return replaced
