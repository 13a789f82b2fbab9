"""Run a script's failing statement under ``with app.app_context():``, at the script itself.

Shared by CTX101 (the statement is the script's own top-level code) and CTX102 (it calls project
code that needs the context): both fix the entry, the ``__main__`` script, and never the project
function it calls, which a view may call too with a context already pushed.

Where the code goes:

- a top-level statement: the contiguous run of top-level statements around it (up to imports,
  definitions, the docstring, another ``with`` that makes a context, and the
  ``if __name__ == "__main__":`` block) goes under the ``with``;
- a statement of the ``if __name__ == "__main__":`` block: it and the rest of the block; for a
  finding of the scan, from an earlier statement of its run that may fail first
  (``wrap_script_statement``).

Which app: the one the script already binds before that code; otherwise the project's own
(``diagnose/apps.py``), imported the way the project imports it. A factory's call goes just
above the ``with``, in the same block, so importing the script never builds an app it did not
build before.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import cast

import libcst as cst

from tracefix.diagnose.apps import app_name_in_scope
from tracefix.diagnose.apps import factory_defined_in
from tracefix.diagnose.apps import find_app_source
from tracefix.diagnose.apps import inside_app_context
from tracefix.diagnose.apps import unreadable_imports
from tracefix.diagnose.flask_sqlalchemy import CONTEXT_ATTRIBUTES
from tracefix.diagnose.project import Project
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import Block
from tracefix.recipes._codemod import Located
from tracefix.recipes._codemod import Statement
from tracefix.recipes._codemod import expand_one_line_body
from tracefix.recipes._codemod import free_name
from tracefix.recipes._codemod import is_context_with
from tracefix.recipes._codemod import is_main_guard
from tracefix.recipes._codemod import line_of
from tracefix.recipes._codemod import names_used
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import wrap_statements
from tracefix.recipes._codemod import wrappable_run
from tracefix.recipes._imports import add_project_imports


@dataclass(frozen=True)
class _Target:
    """The statements to wrap: ``block.body[start:end]``, around ``block.body[index]``, the
    failing one; ``top`` is the top-level statement."""

    module: cst.Module
    block: Block
    start: int
    end: int
    index: int
    top: int
    in_main_block: bool


@dataclass(frozen=True)
class _App:
    """The app's name in the script, with the imports and the line that make it, if any."""

    name: str
    imports: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()


def wrap_script_statement(
    project: Project, path: str, line: int, *, ran_before: bool = True
) -> str:
    """The new text of the script ``path`` with the statement at ``line`` in an app context.

    ``ran_before``: the statements before ``line`` in its ``if __name__ == "__main__":`` block
    ran without a context, as an event's traceback shows, so the ``with`` starts at ``line``.
    Where only the code says ``line`` fails (the scan), an earlier statement of the block may
    fail first through a name the reading did not follow (CTFd's ``db = app.db``, then
    ``db.session.add(...)``): the ``with`` then starts at the first one that reads what only a
    context gives (``.session``, ``.query``...).

    Raises ``SkipFix`` when the statement already runs in a context, is not top-level code or
    ``__main__``-block code, or no app can be found without guessing.
    """
    if inside_app_context(project, path, line):
        raise SkipFix(f"{path}:{line} already runs inside an app context")
    target = _target(project.cst(path), path, line, ran_before=ran_before)
    in_scope = app_name_in_scope(project, path, before_line=line)
    if in_scope is not None:
        start = _after_binding(_statements(target.block), target.start, target.index, in_scope)
        target = replace(target, start=start)
    app = _app(project, path, target, line, in_scope)
    module = target.module
    anchor = module.body[target.top]
    module = add_project_imports(project, module, app.imports, before=target.top)
    block, start, end = target.block, target.start, target.end
    if not target.in_main_block:
        shift = _index_of(module, anchor) - target.top
        block, start, end = module, start + shift, end + shift
    module = wrap_statements(
        module, block, start, end, f"{app.name}.app_context()", before=app.setup
    )
    return module.code


def _target(module: cst.Module, path: str, line: int, *, ran_before: bool) -> _Target:
    chain = statement_chain(module, line)
    if not chain:
        raise SkipFix(f"no statement at {path}:{line}")
    top = chain[0]
    guard = top.statement
    if not is_main_guard(guard):
        start, end = wrappable_run(module.body, top.index, stop=is_context_with)
        if not start <= top.index < end:
            raise SkipFix(f"{path}:{line} is not a statement that can run under `with`")
        while start < top.index and _defines_constants(module, module.body[start]):
            start += 1
        return _Target(module, module, start, end, top.index, top.index, in_main_block=False)
    assert isinstance(guard, cst.If)
    if isinstance(guard.body, cst.SimpleStatementSuite):
        module = expand_one_line_body(module, guard)
        guard = Located(module, top.index).statement
        assert isinstance(guard, cst.If) and isinstance(guard.body, cst.IndentedBlock)
        return _Target(module, guard.body, 0, 1, 0, top.index, in_main_block=True)
    if len(chain) > 1 and chain[1].block is guard.body:
        block = guard.body
        index = chain[1].index
        start = index
        if not ran_before:
            body = _statements(block)
            run = range(wrappable_run(body, index, stop=is_context_with)[0], index)
            start = next((i for i in run if _reads_context_attribute(body[i])), index)
        return _Target(module, block, start, len(block.body), index, top.index, True)
    raise SkipFix(f"{path}:{line} is not in the body of the `if __name__` block")


def _app(project: Project, path: str, target: _Target, line: int, in_scope: str | None) -> _App:
    """The app the wrapped code gets: the script's own, else one made the project's way."""
    module = target.module
    first_line = line_of(module, target.block.body[target.start])
    if in_scope is not None and in_scope == app_name_in_scope(
        project, path, before_line=first_line
    ):
        return _App(in_scope)
    if app_name_in_scope(project, path) is not None:
        raise SkipFix(f"{path} makes its Flask app only after line {line}; move that up first")
    for name, origin in unreadable_imports(project, path):
        raise SkipFix(
            f"{path} imports {name} from {origin}, which binds it only when it runs (a module "
            "__getattr__, or a global set in a function): it may be the app, and a second one "
            f"would not be the one the script uses; push {name}'s context if it is"
        )

    own_factory = factory_defined_in(project, path, before_line=first_line)
    if own_factory is not None:
        name = _free_name(module, path)
        return _App(name, setup=(f"{name} = {own_factory}()",))
    source = find_app_source(project, near=path)
    if source is None:
        raise SkipFix(
            "no single Flask app factory or instance found that the script can import "
            "without guessing its configuration"
        )
    if source.kind == "factory":
        name = _free_name(module, path)
        return _App(name, (*source.imports, source.import_statement), (f"{name} = {source.call}",))
    if source.name not in names_used(module):
        return _App(source.name, (source.import_statement,))
    alias = _free_name(module, path, ("flask_app", "the_app"))
    return _App(alias, (f"{source.import_statement} as {alias}",))


def _free_name(
    module: cst.Module, path: str, candidates: tuple[str, ...] = ("app", "flask_app")
) -> str:
    name = free_name(module, candidates)
    if name is None:
        raise SkipFix(f"{path} already uses the names {' and '.join(candidates)}")
    return name


def _statements(block: Block) -> list[Statement]:
    """``block.body``, typed as the statements that an indented block holds too."""
    return [cast(Statement, statement) for statement in block.body]


def _index_of(module: cst.Module, statement: Statement) -> int:
    return next(i for i, current in enumerate(module.body) if current is statement)


def _after_binding(body: Sequence[Statement], start: int, index: int, name: str) -> int:
    """Move the run's start past a statement in it that binds ``name`` (the app)."""
    for position in range(index - 1, start - 1, -1):
        if name in _assigned_names(body[position]):
            return position + 1
    return start


def _reads_context_attribute(statement: Statement) -> bool:
    """Whether ``statement`` reads an attribute that only an app context makes work
    (``x.session``, ``x.query``, ``x.create_all``...), whatever ``x`` is. A walk of its nodes:
    ``libcst.matchers`` takes a quarter of a second to import."""
    names = {*CONTEXT_ATTRIBUTES, "query"}
    pending: list[cst.CSTNode] = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, cst.Attribute) and node.attr.value in names:
            return True
        pending.extend(node.children)
    return False


def _defines_constants(module: cst.Module, statement: Statement) -> bool:
    """Whether ``statement`` only sets UPPER_CASE names to literals (``ROLES = ("a", "b")``)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if not isinstance(small, cst.Assign) or small.value is None:
            return False
        if not all(
            isinstance(t.target, cst.Name) and t.target.value.isupper() for t in small.targets
        ):
            return False
        try:
            ast.literal_eval(module.code_for_node(small.value).strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False
    return True


def _assigned_names(statement: Statement) -> set[str]:
    names: set[str] = set()
    if isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            if isinstance(small, cst.Assign):
                names.update(
                    t.target.value for t in small.targets if isinstance(t.target, cst.Name)
                )
            elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                names.add(small.target.value)
    return names
