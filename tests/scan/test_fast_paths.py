"""The scan's faster ways of doing what the standard library does give exactly its answers: the
children of every node of real code, in order; the nodes of a body; a path's parts; and a
``tracefix scan`` process that exits early still writes all its output and its exit code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from pathlib import PurePosixPath

import pytest

from tracefix.diagnose.nodes import child_nodes
from tracefix.diagnose.nodes import walk
from tracefix.diagnose.project import path_parent
from tracefix.diagnose.project import path_parts
from tracefix.scan.context_use import NamingLines
from tracefix.scan.context_use import _own_nodes

SOURCE = Path(__file__).parents[2] / "src/tracefix"


def _trees() -> list[ast.Module]:
    return [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(SOURCE.rglob("*.py"))]


def test_child_nodes_are_iter_child_nodes_in_order():
    for tree in _trees():
        for node in ast.walk(tree):
            assert child_nodes(node) == list(ast.iter_child_nodes(node))


def test_walk_is_ast_walk_in_order():
    for tree in _trees():
        assert list(walk(tree)) == list(ast.walk(tree))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            assert list(walk(function)) == list(ast.walk(function))


def _own_nodes_as_it_was(statements: list[ast.stmt]) -> list[ast.AST]:
    found = []
    pending: list[ast.AST] = list(reversed(statements))
    while pending:
        node = pending.pop()
        found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(reversed(list(ast.iter_child_nodes(node))))
    return found


def test_own_nodes_are_the_same_nodes_in_the_same_order():
    for tree in _trees():
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for body in [tree.body, *(function.body for function in functions)]:
            assert list(_own_nodes(body)) == _own_nodes_as_it_was(body)
            assert list(_own_nodes(tuple(body))) == _own_nodes_as_it_was(body)


@pytest.mark.parametrize(
    "path",
    [
        "a",
        "a/b.py",
        "./a",
        "a//b",
        "a/./b",
        "/x/y",
        "a/",
        "a/.",
        ".",
        "..",
        "../a",
        "a/..",
        ".hidden/x.py",
        "dé/ü.py",
        "a\\b",
        " a/b ",
        "a/b/c/d/e.py",
        "",
        "//a/b",
    ],
)
def test_parts_and_parent_are_pure_posix_paths(path):
    assert path_parts(path) == PurePosixPath(path).parts
    assert path_parent(path) == str(PurePosixPath(path).parent)


def test_a_scan_process_writes_everything_before_it_exits(make_project):
    files = {f"scripts/seed_{i}.py": "from app import db\n\ndb.create_all()\n" for i in range(40)}
    root = make_project(files)
    completed = subprocess.run(
        [sys.executable, "-m", "tracefix", "scan", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert completed.stdout.rstrip().endswith("}")
    assert completed.stdout.count('"code": "CTX101"') == 40


def _naming_lines_as_it_was(source: str, names: list[str]) -> list[int]:
    alternatives = "|".join(map(re.escape, sorted(names)))
    word = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.ASCII)
    numbers: list[int] = []
    for match in word.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        if not numbers or numbers[-1] != line:
            numbers.append(line)
    return numbers


@pytest.mark.parametrize(
    "names",
    [
        ["import"],
        ["current_app", "g", "db", "session"],
        ["Thread", "Timer"],
        ["a", "ab", "b_"],
        ["x.y", "import"],
        ["_"],
    ],
)
def test_naming_lines_are_the_lines_a_whole_word_regex_finds(names):
    sources = [path.read_text(encoding="utf-8") for path in sorted(SOURCE.rglob("*.py"))]
    sources += ["import a\nximport b\n_import c\nimport_d\n(import)\n1import\nab a_b b_ x.y\n"]
    for source in sources:
        if source.isascii():
            assert NamingLines.of(source, names).numbers == _naming_lines_as_it_was(source, names)
