"""The codemods of CTX108: hand a thread the request's values, or a copy of the request.

A function another thread runs reads ``request.args["q"]``, ``current_user.id``, ``g.user``:
each such read is a chain of attributes, constant subscripts and read-only method calls from
one of the request's globals. When every chain can be read in the view instead (it runs each
time the function does, or it cannot fail), the function takes the values as parameters and
every start passes them; the view reads them while its request is there (Flask's advice:
"pass the data you need when starting the task"). Otherwise, when the function needs the
request itself, each start hands over ``copy_current_request_context(function)``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from tracefix.diagnose.project import Project
from tracefix.patch import FileChange
from tracefix.recipes._base import SkipFix
from tracefix.recipes._codemod import is_call_of
from tracefix.recipes._codemod import is_context_with
from tracefix.recipes._codemod import is_import_line
from tracefix.recipes._codemod import statement_chain
from tracefix.recipes._codemod import top_level_function
from tracefix.recipes._imports import add_project_imports
from tracefix.recipes.thread_target import fix as thread_fix
from tracefix.recipes.thread_target.spawns import Reference
from tracefix.recipes.thread_target.spawns import bound_name

#: Methods that only read: a chain goes on through them when their arguments are constants.
READ_METHODS = frozenset(
    {"get", "getlist", "get_json", "get_data", "to_dict", "get_id", "keys", "values", "items"}
)
#: Methods that change a session, or any dict, in place.
CHANGING_METHODS = frozenset({"pop", "update", "setdefault", "clear", "popitem"})
#: Request attributes that hold a stream the request closes when it ends.
STREAMS = frozenset({"files", "stream", "input_stream"})
#: Request attributes that never raise and read no body: safe to read in the view even when
#: the thread would have read them only on some paths.
TOTAL_REQUEST_ATTRIBUTES = frozenset(
    {
        "args",
        "headers",
        "cookies",
        "path",
        "full_path",
        "url",
        "base_url",
        "url_root",
        "host",
        "host_url",
        "remote_addr",
        "access_route",
        "method",
        "endpoint",
        "blueprint",
        "view_args",
        "url_rule",
        "scheme",
        "is_secure",
        "is_json",
        "mimetype",
        "content_type",
        "content_length",
        "user_agent",
        "referrer",
        "environ",
    }
)
TOTAL_USER_ATTRIBUTES = frozenset({"is_authenticated", "is_active", "is_anonymous", "get_id"})
#: Parameter names too vague alone: the part before them is put in front (``user_id``).
VAGUE_NAMES = frozenset(
    {"id", "data", "json", "args", "form", "values", "headers", "cookies", "value", "name"}
)
ROOT_WORDS = {
    "flask.request": "request",
    "flask.globals.request": "request",
    "flask.session": "session",
    "flask.globals.session": "session",
    "flask.g": "g",
    "flask.globals.g": "g",
    "flask_login.current_user": "user",
    "flask_login.utils.current_user": "user",
}
COPY_WRAPPER = "flask.copy_current_request_context"


@dataclass(frozen=True)
class Read:
    """One chain the function reads from a request global."""

    #: The qualified global it starts with (``flask.request``).
    root: str
    #: The chain after the global, as written (``.args["q"]``); empty for the global itself.
    rest: str
    #: Whether it can be read in the view instead.
    hoistable: bool
    #: Why not, when it cannot.
    reason: str = ""
    #: Whether it changes the global (``session["x"] = 1``, ``session.pop("x")``).
    writes: bool = False


def request_reads(function: cst.FunctionDef, spellings: dict[str, str]) -> list[Read]:
    """The chains ``function`` reads from the request globals, which the file names as
    ``spellings`` (name as written -> qualified global), in source order."""
    return [read for read, _ in _Reads(spellings).of(function)]


def hoist_reads(
    module: cst.Module, name: str, spellings: dict[str, str], parameters: dict[Read, str]
) -> cst.Module:
    """``module`` with each chain of function ``name`` that reads a request global replaced by
    the parameter ``parameters`` names for it; then the file's imports of the globals it no
    longer uses are dropped."""
    function = top_level_function(module, name)
    replacements = {
        id(node): parameters[read]
        for read, node in _Reads(spellings).of(function)
        if read in parameters
    }
    new = function.visit(_Replace(replacements))
    assert isinstance(new, cst.FunctionDef)
    replaced = module.deep_replace(function, new)
    assert isinstance(replaced, cst.Module)
    return _drop_unused_imports(replaced, {s for s in spellings if "." not in s})


def parameter_names(reads: Sequence[Read], taken: set[str]) -> dict[Read, str]:
    """A parameter name for each distinct read: its last key or attribute (``q`` for
    ``request.args["q"]``), with the part before it when vague (``user_id``), never one of
    ``taken``."""
    names: dict[Read, str] = {}
    used = set(taken)
    for read in reads:
        if read in names:
            continue
        parts = [ROOT_WORDS.get(read.root, "value"), *_parts(read.rest)]
        candidate = parts[-1]
        if candidate in VAGUE_NAMES or len(parts) == 1:
            candidate = "_".join(parts[-2:])
        if not candidate.isidentifier() or keyword.iskeyword(candidate):
            candidate = "_".join(p for p in parts if p.isidentifier()) or "value"
        base, number = candidate, 2
        while candidate in used:
            candidate, number = f"{base}_{number}", number + 1
        names[read] = candidate
        used.add(candidate)
    return names


def wrap_handed(project: Project, starts: Sequence[Reference]) -> tuple[FileChange, ...]:
    """The changes that hand ``copy_current_request_context(f)`` over at each start instead of
    ``f``, importing it the way each file imports Flask."""
    changes = []
    for path in sorted({start.path for start in starts}):
        here = [start for start in starts if start.path == path]
        module = project.cst(path)
        first = min(start.line for start in here)
        wrapper = bound_name(project, path, COPY_WRAPPER, first)
        lines = len(module.code.splitlines())
        if wrapper is None:
            before = statement_chain(module, first)[0].index
            module = add_project_imports(
                project, module, ["from flask import copy_current_request_context"], before=before
            )
            wrapper = "copy_current_request_context"
        shift = len(module.code.splitlines()) - lines
        for start in sorted(here, key=lambda s: s.line, reverse=True):
            module = _wrap_handed_at(module, start.line + shift, start.role, wrapper)
        changes.append(FileChange(path, project.source(path), module.code))
    return tuple(changes)


def _wrap_handed_at(module: cst.Module, line: int, role: str, wrapper: str) -> cst.Module:
    names = {"thread": "Thread", "timer": "Timer", "submit": "submit"}
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    calls = [
        node
        for node in positions
        if is_call_of(node, names[role]) and positions[node].start.line == line
    ]
    if len(calls) != 1:
        raise SkipFix(f"cannot find the {names[role]}() call at line {line}")
    call = calls[0]
    keyword_name = {"thread": "target", "timer": "function"}.get(role)
    positional = [arg for arg in call.args if arg.keyword is None]
    handed = next(
        (arg for arg in call.args if arg.keyword and arg.keyword.value == keyword_name), None
    )
    if handed is None:
        index = 0 if role == "submit" else 1
        handed = positional[index] if len(positional) > index else None
    if handed is None or handed.star:
        raise SkipFix(f"cannot tell what the {names[role]}() call at line {line} runs")
    value = cst.Call(cst.parse_expression(wrapper), [cst.Arg(handed.value)])
    arguments = [arg.with_changes(value=value) if arg is handed else arg for arg in call.args]
    return thread_fix.replace_call(module, call, call.with_changes(args=arguments), line)


class _Reads:
    """Finds the chains from request globals in a function, and whether each runs on every
    call of it before anything can return or raise."""

    def __init__(self, spellings: dict[str, str]) -> None:
        self.spellings = spellings
        self.found: list[tuple[Read, cst.BaseExpression]] = []

    def of(self, function: cst.FunctionDef) -> list[tuple[Read, cst.BaseExpression]]:
        self.found = []
        body = function.body
        if isinstance(body, cst.IndentedBlock):
            self._block(body.body, conditional=False)
        else:
            for small in body.body:
                self._node(small, conditional=False)
        return self.found

    def _block(self, statements: Sequence[cst.BaseStatement], *, conditional: bool) -> None:
        for statement in statements:
            self._statement(statement, conditional=conditional)
            if _may_leave(statement):
                conditional = True

    def _statement(self, statement: cst.BaseStatement, *, conditional: bool) -> None:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                self._node(small, conditional=conditional)
        elif isinstance(statement, cst.If):
            self._node(statement.test, conditional=conditional)
            self._suite(statement.body)
            if statement.orelse is not None:
                self._suite(statement.orelse)
        elif isinstance(statement, cst.For):
            self._node(statement.iter, conditional=conditional)
            self._node(statement.target, conditional=True)
            self._suite(statement.body)
            if statement.orelse is not None:
                self._suite(statement.orelse)
        elif isinstance(statement, cst.While):
            self._node(statement.test, conditional=conditional)
            self._suite(statement.body)
        elif isinstance(statement, cst.With):
            for item in statement.items:
                self._node(item, conditional=conditional)
            inside = conditional or not is_context_with(statement)
            self._suite(statement.body, conditional=inside)
        else:
            self._node(statement, conditional=True)

    def _suite(self, node: cst.CSTNode, *, conditional: bool = True) -> None:
        if isinstance(node, cst.Else | cst.If):
            node = node.body if isinstance(node, cst.Else) else node
            if isinstance(node, cst.If):
                self._statement(node, conditional=True)
                return
        if isinstance(node, cst.IndentedBlock):
            self._block(node.body, conditional=conditional)
        elif isinstance(node, cst.SimpleStatementSuite):
            for small in node.body:
                self._node(small, conditional=conditional)
        else:
            self._node(node, conditional=True)

    def _node(self, node: cst.CSTNode, *, conditional: bool) -> None:
        if isinstance(node, cst.BaseExpression):
            found = self._chain(node)
            if found is not None:
                root, rest, parts = found
                self.found.append((self._read(root, rest, parts, conditional), node))
                return
        if isinstance(node, cst.Assign | cst.AugAssign | cst.AnnAssign | cst.Del):
            self._assignment(node, conditional=conditional)
            return
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            changed = node.func.attr.value in CHANGING_METHODS
            found = self._chain(node.func.value)
            if found is not None:
                root, rest, parts = found
                read = self._read(root, rest, parts, conditional, writes=changed)
                self.found.append((read, node.func.value))
            else:
                self._node(node.func.value, conditional=conditional)
            for arg in node.args:
                self._node(arg.value, conditional=conditional)
            return
        if isinstance(node, cst.BooleanOperation):
            self._node(node.left, conditional=conditional)
            self._node(node.right, conditional=True)
            return
        if isinstance(node, cst.IfExp):
            self._node(node.test, conditional=conditional)
            self._node(node.body, conditional=True)
            self._node(node.orelse, conditional=True)
            return
        if isinstance(node, cst.Attribute):
            self._node(node.value, conditional=conditional)
            return
        if isinstance(node, cst.Arg):
            self._node(node.value, conditional=conditional)
            return
        if isinstance(node, cst.Param):
            if node.default is not None:
                self._node(node.default, conditional=True)
            return
        inner = conditional or isinstance(
            node,
            cst.Lambda
            | cst.ListComp
            | cst.SetComp
            | cst.DictComp
            | cst.GeneratorExp
            | cst.FunctionDef
            | cst.ClassDef,
        )
        for child in node.children:
            self._node(child, conditional=inner)

    def _assignment(self, node: cst.CSTNode, *, conditional: bool) -> None:
        targets: list[cst.BaseExpression] = []
        if isinstance(node, cst.Assign):
            targets = [target.target for target in node.targets]
        elif isinstance(node, cst.AugAssign | cst.AnnAssign):
            targets = [node.target]
        elif isinstance(node, cst.Del):
            targets = [node.target]
        value = getattr(node, "value", None)
        if isinstance(value, cst.BaseExpression):
            self._node(value, conditional=conditional)
        for target in targets:
            if not isinstance(target, cst.Attribute | cst.Subscript):
                continue
            found = self._chain(target.value)
            if found is not None:
                root, rest, parts = found
                read = self._read(root, rest, parts, conditional, writes=True)
                self.found.append((read, target.value))
            else:
                self._node(target.value, conditional=conditional)

    def _chain(self, node: cst.BaseExpression | None) -> tuple[str, str, list[cst.CSTNode]] | None:
        """``(global, rest, links)`` when ``node`` is a chain from a request global."""
        links: list[cst.CSTNode] = []
        current = node
        while current is not None:
            text = _dotted(current)
            if text is not None and text in self.spellings:
                rest = "".join(_code(link) for link in reversed(links))
                return self.spellings[text], rest, list(reversed(links))
            if isinstance(current, cst.Attribute):
                links.append(current)
                current = current.value
            elif isinstance(current, cst.Subscript) and _constant_index(current):
                links.append(current)
                current = current.value
            elif (
                isinstance(current, cst.Call)
                and isinstance(current.func, cst.Attribute)
                and current.func.attr.value in READ_METHODS
                and all(_constant(arg.value) and not arg.star for arg in current.args)
            ):
                links.append(current)
                current = current.func.value
            else:
                return None
        return None

    def _read(
        self,
        root: str,
        rest: str,
        links: list[cst.CSTNode],
        conditional: bool,
        *,
        writes: bool = False,
    ) -> Read:
        word = ROOT_WORDS.get(root, "request")
        first = _link_name(links[0]) if links else None
        if writes:
            return Read(root, rest, False, f"it changes `{word}`", writes=True)
        if not links:
            return Read(root, rest, False, f"it uses `{word}` itself, not a value read from it")
        if word == "request" and first in STREAMS:
            return Read(root, rest, False, f"`request.{first}` is a stream the request closes")
        if not conditional or _total(word, links):
            return Read(root, rest, True)
        return Read(root, rest, False, f"it reads `{word}{rest}` only on some paths")


class _Replace(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, str]) -> None:
        self.replacements = replacements

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._replaced(original_node, updated_node)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        return self._replaced(original_node, updated_node)

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        return self._replaced(original_node, updated_node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._replaced(original_node, updated_node)

    def _replaced(
        self, original_node: cst.BaseExpression, updated_node: cst.BaseExpression
    ) -> cst.BaseExpression:
        name = self.replacements.get(id(original_node))
        if name is None:
            return updated_node
        return cst.Name(name, lpar=original_node.lpar, rpar=original_node.rpar)


def _drop_unused_imports(module: cst.Module, names: set[str]) -> cst.Module:
    """``module`` without the ``from x import name`` aliases of ``names`` nothing reads now.

    A line left empty goes; the statement after it takes its blank lines and comments when it
    was in the same group, or when the file now starts with it."""
    still = _names_read(module)
    unused = names - still
    if not unused:
        return module
    body: list[cst.SimpleStatementLine | cst.BaseCompoundStatement] = []
    dropped: Sequence[cst.EmptyLine] | None = None
    for statement in module.body:
        kept: cst.SimpleStatementLine | cst.BaseCompoundStatement | None = statement
        if isinstance(statement, cst.SimpleStatementLine) and is_import_line(statement):
            kept = _without_aliases(statement, unused)
        if kept is None:
            if dropped is None:
                dropped = statement.leading_lines
            continue
        if dropped is not None and (not body or not kept.leading_lines):
            kept = kept.with_changes(leading_lines=dropped)
        dropped = None
        body.append(kept)
    return module.with_changes(body=body)


def _without_aliases(
    line: cst.SimpleStatementLine, unused: set[str]
) -> cst.SimpleStatementLine | None:
    smalls = []
    for small in line.body:
        if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            kept = [
                alias
                for alias in small.names
                if (alias.evaluated_alias or alias.evaluated_name) not in unused
            ]
            if not kept:
                continue
            if len(kept) != len(small.names):
                last = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                small = small.with_changes(names=[*kept[:-1], last])
                if small.lpar is not None and len(kept) == 1:
                    small = small.with_changes(lpar=None, rpar=None)
        smalls.append(small)
    if not smalls:
        return None
    return line.with_changes(body=smalls)


def _names_read(module: cst.Module) -> set[str]:
    """Every name the module reads, leaving out the names its imports bind."""

    class Collect(cst.CSTVisitor):
        def __init__(self) -> None:
            self.names: set[str] = set()

        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            self.names.add(node.value)

        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            self.names.add(str(node.evaluated_value))

    collector = Collect()
    module.visit(collector)
    return collector.names


def _may_leave(statement: cst.BaseStatement) -> bool:
    """Whether running ``statement`` may end the function early (``return``, ``raise``)."""

    class Find(cst.CSTVisitor):
        found = False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Return(self, node: cst.Return) -> None:
            self.found = True

        def visit_Raise(self, node: cst.Raise) -> None:
            self.found = True

    finder = Find()
    statement.visit(finder)
    return finder.found


def _total(word: str, links: list[cst.CSTNode]) -> bool:
    """Whether reading the chain cannot raise: a plain request attribute then ``.get(...)``,
    ``session.get(...)``, ``g.get(...)``, or the user's ``is_authenticated`` and the like."""
    names = [_link_name(link) for link in links]
    if any(isinstance(link, cst.Subscript) for link in links):
        return False
    if word == "request":
        return (
            names[0] in TOTAL_REQUEST_ATTRIBUTES
            and all(name in ("get", "getlist") for name in names[1:] if name)
            and all(not isinstance(link, cst.Attribute) for link in links[1:])
        )
    if word in ("session", "g"):
        return names == ["get"]
    if word == "user":
        return len(names) == 1 and names[0] in TOTAL_USER_ATTRIBUTES
    return False


def _link_name(link: cst.CSTNode) -> str | None:
    if isinstance(link, cst.Attribute):
        return link.attr.value
    if isinstance(link, cst.Call) and isinstance(link.func, cst.Attribute):
        return link.func.attr.value
    return None


def _parts(rest: str) -> list[str]:
    """The names and constant keys of a chain's rest, for naming: ``.args.get("q")`` gives
    ``["args", "q"]``, ``.get_json()`` gives ``["json"]``."""
    expression = cst.parse_expression("x" + rest)
    parts: list[str] = []
    node: cst.BaseExpression = expression
    while not isinstance(node, cst.Name):
        if isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Subscript):
            index = node.slice[0].slice
            assert isinstance(index, cst.Index)
            parts.append(_key_text(index.value))
            node = node.value
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            if node.args and method in ("get", "getlist"):
                parts.append(_key_text(node.args[0].value))
            elif method.startswith("get_"):
                parts.append(method.removeprefix("get_"))
            node = node.func.value
        else:
            break
    return list(reversed(parts))


def _key_text(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        if not isinstance(value, str):
            return "value"
        return value if value.isidentifier() else re.sub(r"\W+", "_", value).strip("_").lower()
    if isinstance(node, cst.Integer):
        return f"item_{node.value}"
    return "value"


def _constant_index(node: cst.Subscript) -> bool:
    return (
        len(node.slice) == 1
        and isinstance(node.slice[0].slice, cst.Index)
        and _constant(node.slice[0].slice.value)
    )


def _constant(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString | cst.Integer | cst.Float | cst.Name) and (
        not isinstance(node, cst.Name) or node.value in ("None", "True", "False")
    )


def _dotted(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _code(link: cst.CSTNode) -> str:
    """A link of a chain as written after its base: ``.args``, ``["q"]``, ``.get("q")``."""
    if isinstance(link, cst.Attribute):
        return f".{link.attr.value}"
    module = cst.Module([])
    if isinstance(link, cst.Subscript):
        return "[" + "".join(module.code_for_node(element) for element in link.slice) + "]"
    assert isinstance(link, cst.Call) and isinstance(link.func, cst.Attribute)
    arguments = "".join(module.code_for_node(arg) for arg in link.args)
    return f".{link.func.attr.value}({arguments})"
