"""The text tests that let the scan skip code lose nothing. ``Project.may_name`` and
``python_files_spelling`` (a detector skips a file) and ``NamingLines`` (a reader skips a
statement): every fixture project (and its fixed side) scans to the same findings with all
answering "yes" for everything, a name spelt in other Unicode characters still counts, and a
statement spans its decorators' lines.
``_import_statements`` (the importers' index skips blocks without ``import`` on a line): the
same imports as a walk of the whole tree, in every fixture file and in tracefix's own."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tracefix.diagnose.project import Project
from tracefix.recipes import RECIPES
from tracefix.recipes import all_recipes
from tracefix.scan.context_use import NamingLines
from tracefix.scan.context_use import _import_statements
from tracefix.scan.engine import scan
from tracefix.testing import Case
from tracefix.testing import case_dirs
from tracefix.testing import load_case

PACKAGE = Path(__file__).parents[2] / "src" / "tracefix"


def cases() -> list[tuple[str, Case]]:
    return [
        (f"{recipe_class.code}-{case_dir.name}", load_case(case_dir))
        for recipe_class in RECIPES
        for case_dir in case_dirs(sys.modules[recipe_class.__module__].__file__ or "")
    ]


def projects() -> list[object]:
    found = []
    for name, case in cases():
        found.append(pytest.param(case.project, id=name))
        if case.expected is not None:
            fixed = case.project.with_changes(case.expected)
            found.append(pytest.param(fixed, id=f"{name}-fixed"))
    return found


def findings(project: Project) -> list[tuple[str, str, int, int, str]]:
    result = scan(project, list(project.python_files()), all_recipes())
    return [(f.code, f.path, f.line, f.column, f.message) for f in result.findings]


@pytest.mark.parametrize("project", projects())
def test_the_text_tests_change_no_finding(project, monkeypatch):
    filtered = findings(Project(dict(project.files)))
    monkeypatch.setattr(Project, "may_name", lambda self, path, name: True)
    monkeypatch.setattr(Project, "python_files_spelling", lambda self, name: self.python_files())
    monkeypatch.setattr(NamingLines, "may_name_in", lambda self, statement: True)
    assert findings(Project(dict(project.files))) == filtered


def test_a_name_spelt_in_other_unicode_characters_may_be_named():
    project = Project({"a.py": "loop.\uff52un_in_executor(None, f)\n", "b.py": "x = 1\n"})
    assert project.may_name("a.py", "run_in_executor")
    assert not project.may_name("b.py", "run_in_executor")


def test_a_word_is_spelt_whole_or_in_other_unicode_characters():
    project = Project(
        {
            "click_only.py": "import click\nclient = click.Group()\n",
            "imports.py": "from manage import cli\n",
            "calls.py": "cli.main(standalone_mode=False)",
            "unicode.py": "\uff43li()\n",
            "notes.txt": "cli\n",
        }
    )
    assert project.python_files_spelling("cli") == ("calls.py", "imports.py", "unicode.py")


def test_a_statement_spans_its_decorators():
    source = "@app.route(url_for('x'))\ndef view():\n    pass\n"
    (view,) = ast.parse(source).body
    assert NamingLines.of(source, ["url_for"]).may_name_in(view)
    assert not NamingLines.of(source, ["session"]).may_name_in(view)
    assert NamingLines.of(source.replace("\n", "\r\n"), ["session"]).may_name_in(view)


def test_import_statements_finds_every_import():
    sources = [
        case.project.source(path) or ""
        for _, case in cases()
        for path in case.project.python_files()
    ]
    sources += [file.read_text(encoding="utf-8") for file in sorted(PACKAGE.rglob("*.py"))]
    checked = 0
    for source in sources:
        for text in (source, source.replace("\n", "\r\n")):
            try:
                tree = ast.parse(text)
            except SyntaxError:
                continue
            every = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            assert sorted(map(id, _import_statements(tree.body, text))) == sorted(map(id, every))
            checked += 1
    assert checked > 1000
