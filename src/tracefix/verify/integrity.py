"""Static checks on a candidate fix: it must not weaken the tests, nor leave a context pushed.

A fix that makes the failure go away by deleting an assertion, skipping a test or pushing a
context it never pops passes a naive "exit code 0 and tests green" check. These checks read the
code before and after (pure: text in, problems out) and name each such change in one line.
"""

from __future__ import annotations

import ast
import configparser
import tomllib
from collections import Counter
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import PurePosixPath

from tracefix.diagnose.project import Project
from tracefix.patch import FileChange

#: Calls that are assertions in their own right, by the end of their dotted name.
ASSERT_CALLS = ("pytest.raises", "pytest.warns", "pytest.deprecated_call", "pytest.fail")
#: Calls and decorators that skip or expect the failure of a test.
SKIP_NAMES = frozenset(
    {
        "pytest.skip",
        "pytest.xfail",
        "pytest.importorskip",
        "pytest.mark.skip",
        "pytest.mark.skipif",
        "pytest.mark.xfail",
        "mark.skip",
        "mark.skipif",
        "mark.xfail",
        "unittest.skip",
        "unittest.skipIf",
        "unittest.skipUnless",
        "unittest.expectedFailure",
        "self.skipTest",
        "skip",
        "skipIf",
        "skipUnless",
        "expectedFailure",
        "collect_ignore",
        "collect_ignore_glob",
    }
)
CONTEXT_FACTORIES = frozenset({"app_context", "request_context", "test_request_context"})
PYTEST_SECTIONS = {
    "pytest.ini": ("pytest",),
    "tox.ini": ("pytest",),
    "setup.cfg": ("tool:pytest",),
}


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name == "conftest.py" or (
        name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
    )


def check_test_integrity(changes: Sequence[FileChange], project_before: Project) -> list[str]:
    """Problems where ``changes`` remove, edit or skip what the existing tests check.

    Every test function must survive; every ``assert``, ``pytest.raises``-style call and
    ``self.assert*`` call of every function in a test file must still be there (compared as
    syntax trees, so moving one into a new ``with`` block is fine); no new skip or xfail may
    appear; and pytest's own configuration must not change.
    """
    problems: list[str] = []
    for change in changes:
        before = change.before if change.before is not None else project_before.source(change.path)
        if is_test_file(change.path):
            problems.extend(_test_file_problems(change.path, before, change.after))
        elif PurePosixPath(change.path).name in {*PYTEST_SECTIONS, "pyproject.toml"}:
            if _pytest_config(change.path, before) != _pytest_config(change.path, change.after):
                problems.append(f"{change.path}: the fix changes pytest's configuration")
    return problems


def check_context_balance(changes: Sequence[FileChange]) -> list[str]:
    """Problems where ``changes`` add a ``.push()`` of an app or request context with no ``.pop()``.

    A pushed context that is never popped leaks into whatever runs next in that thread (the next
    test, the next task); ``with app.app_context():`` cannot leak.
    """
    problems: list[str] = []
    for change in changes:
        if not change.path.endswith(".py"):
            continue
        after = _parse(change.after)
        if after is None:
            continue
        before = _parse(change.before or "")
        pushes_before, pops_before = _pushes_and_pops(before) if before else ({}, Counter())
        pushes_after, pops_after = _pushes_and_pops(after)
        for target, lines in pushes_after.items():
            # Pushes left without a pop, before and after: a fix may add the push a pop that is
            # already there was waiting for (a ``tearDown`` popping what ``setUp`` no longer
            # pushed), never one more that nothing pops.
            unpopped = len(lines) - pops_after[target]
            unpopped_before = len(pushes_before.get(target, [])) - pops_before[target]
            if unpopped > max(unpopped_before, 0):
                shown = "app.app_context().push()" if target is None else f"{target}.push()"
                problems.append(
                    f"{change.path}:{lines[-1]}: `{shown}` has no matching pop(); "
                    "use `with app.app_context():` instead"
                )
    return problems


def _test_file_problems(path: str, before: str | None, after: str) -> list[str]:
    after_tree = _parse(after)
    if after_tree is None:
        return [f"{path}: the fix leaves this test file unparsable"]
    before_tree = _parse(before) if before is not None else None
    problems: list[str] = []
    if before_tree is not None:
        functions_after = dict(_functions(after_tree))
        for name, function in _functions(before_tree):
            if name not in functions_after:
                if _is_test_name(name) or _checks(function):
                    problems.append(f"{path}::{name}: the fix removes this test function")
                continue
            missing = Counter(_checks(function)) - Counter(_checks(functions_after[name]))
            for check in missing.elements():
                problems.append(f"{path}::{name}: the fix removes or edits `{_short(check)}`")
    new_skips = Counter(_skips(after_tree)) - Counter(_skips(before_tree) if before_tree else [])
    for skip in new_skips.elements():
        problems.append(f"{path}: the fix adds `{_short(skip)}`")
    return problems


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function with its qualified name (``TestUser.test_name``), nested ones included."""

    def walk(
        node: ast.AST, prefix: str
    ) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{child.name}", child
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def _is_test_name(qualified: str) -> bool:
    return qualified.rsplit(".", 1)[-1].startswith("test")


def _checks(function: ast.AST) -> list[str]:
    """The assertions of ``function`` as position-free syntax trees (its own, not nested defs')."""
    found: list[str] = []
    for node in _own_nodes(function):
        if isinstance(node, ast.Assert):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name and (
                name.endswith(ASSERT_CALLS)
                or name in {"raises", "warns"}
                or (name.startswith("self.") and name[5:].startswith(("assert", "fail")))
            ):
                found.append(ast.unparse(node))
    return found


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(function):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        yield child
        yield from _own_nodes(child)


def _skips(tree: ast.Module) -> list[str]:
    found: list[str] = []
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dotted(node.func) in SKIP_NAMES:
            found.append(ast.unparse(node))
        elif (
            isinstance(node, ast.Attribute | ast.Name)
            and id(node) not in callees
            and _dotted(node) in SKIP_NAMES
            and not _is_inner_part(node, tree)
        ):
            found.append(ast.unparse(node))
    return found


def _is_inner_part(node: ast.AST, tree: ast.Module) -> bool:
    """``pytest.mark`` inside ``pytest.mark.skip``: only the whole chain counts."""
    return any(
        isinstance(parent, ast.Attribute) and parent.value is node for parent in ast.walk(tree)
    )


def _pushes_and_pops(tree: ast.Module) -> tuple[dict[str | None, list[int]], Counter[str | None]]:
    """Context pushes (line numbers) and pops, keyed by the name holding the context.

    ``None`` stands for a context pushed straight off its factory, which nothing can pop.
    """
    holders = {
        _dotted(target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign) and _is_context_factory(node.value)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    }
    pushes: dict[str | None, list[int]] = {}
    pops: Counter[str | None] = Counter()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        key: str | None
        if _is_context_factory(receiver):
            key = None
        elif (name := _dotted(receiver)) in holders:
            key = name
        else:
            continue
        if node.func.attr == "push":
            pushes.setdefault(key, []).append(node.lineno)
        elif node.func.attr == "pop":
            pops[key] += 1
    return pushes, pops


def _is_context_factory(node: ast.AST | None) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = _dotted(node.func) or ""
    return name.rsplit(".", 1)[-1] in CONTEXT_FACTORIES


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _pytest_config(path: str, text: str | None) -> object:
    if text is None:
        return None
    name = PurePosixPath(path).name
    try:
        if name == "pyproject.toml":
            return tomllib.loads(text).get("tool", {}).get("pytest")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
    except (tomllib.TOMLDecodeError, configparser.Error):
        return text
    return {s: dict(parser[s]) for s in PYTEST_SECTIONS[name] if parser.has_section(s)}


def _parse(text: str | None) -> ast.Module | None:
    if text is None:
        return None
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _short(code: str, limit: int = 80) -> str:
    line = " ".join(code.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
