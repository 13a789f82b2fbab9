"""``# tracefix: ignore`` comments and ``[tool.tracefix]``: what a project tells the scan."""

from __future__ import annotations

import pytest

from tracefix.scan.config import ScanConfig
from tracefix.scan.suppressions import is_suppressed
from tracefix.scan.suppressions import suppressions

SCRIPT = """\
from app import db
from app.models import User

user = User(name="Admin")
db.session.add(user){comment}
db.session.commit()
"""
SCRIPT_CALLING = """\
from app import db


def seed():
    db.session.commit()


if __name__ == "__main__":
    seed()
"""


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        pytest.param("  # tracefix: ignore[CTX101]", True, id="its code"),
        pytest.param("  # tracefix: ignore[CTX104, CTX101]", True, id="among codes"),
        pytest.param("  # tracefix: ignore", True, id="bare"),
        pytest.param("  # TRACEFIX: IGNORE[ctx101]", True, id="any case"),
        pytest.param("  # tracefix: ignore[CTX102]", False, id="another code"),
        pytest.param("  # noqa", False, id="another tool's"),
    ],
)
def test_a_comment_suppresses_the_codes_it_names(make_project, tracefix_scan, comment, suppressed):
    root = make_project({"scripts/seed_db.py": SCRIPT.format(comment=comment)})
    run = tracefix_scan(root)
    assert (run.code == 0) is suppressed
    assert ("CTX101" in run.stdout) is not suppressed


def test_a_comment_on_another_line_suppresses_nothing(make_project, tracefix_scan):
    text = SCRIPT.format(comment="").replace("user = User", "user = User  # tracefix: ignore\n#")
    run = tracefix_scan(make_project({"scripts/seed_db.py": text}))
    assert run.code == 1


def test_only_comments_count():
    source = 'text = "# tracefix: ignore"\nvalue = 1  # tracefix: ignore[CTX103]\n'
    table = suppressions(source)
    assert table == {2: frozenset({"CTX103"})}
    assert is_suppressed(table, 2, "CTX103") and not is_suppressed(table, 2, "CTX101")
    assert not is_suppressed(table, 1, "CTX101")


def test_suppressions_survive_a_file_that_does_not_tokenize():
    assert suppressions('x = """\n# tracefix: ignore\n') == {2: None}


PYPROJECT = """\
[tool.tracefix]
{body}
"""


@pytest.mark.parametrize(
    ("body", "reported"),
    [
        pytest.param("", {"CTX101", "CTX102"}, id="default: every code"),
        pytest.param('select = ["CTX101"]', {"CTX101"}, id="select a code"),
        pytest.param('ignore = ["CTX102"]', {"CTX101"}, id="ignore a code"),
        pytest.param('select = ["CTX1"]\nignore = ["CTX10"]', set(), id="longer prefix wins"),
        pytest.param('select = ["CTX102"]\nignore = ["CTX1"]', {"CTX102"}, id="code beats prefix"),
        pytest.param('exclude = ["scripts/"]', {"CTX102"}, id="exclude a folder"),
        pytest.param('exclude = ["**/seed_*.py"]', {"CTX102"}, id="exclude a glob"),
    ],
)
def test_configuration_selects_ignores_and_excludes(make_project, tracefix_scan, body, reported):
    root = make_project(
        {
            "pyproject.toml": PYPROJECT.format(body=body),
            "scripts/seed_db.py": SCRIPT.format(comment=""),
            "tools/seed.py": SCRIPT_CALLING,
        }
    )
    run = tracefix_scan(root, "--format", "json")
    assert {f["code"] for f in __import__("json").loads(run.stdout)["findings"]} == reported
    assert run.code == (1 if reported else 0)


def test_the_command_line_selects_over_the_configuration(make_project, tracefix_scan):
    root = make_project(
        {
            "pyproject.toml": PYPROJECT.format(body='select = ["CTX102"]'),
            "scripts/seed_db.py": SCRIPT.format(comment=""),
        }
    )
    assert tracefix_scan(root).code == 0
    assert "CTX101" in tracefix_scan(root, "--select", "CTX101").stdout
    assert tracefix_scan(root, "--select", "CTX101", "--ignore", "CTX101").code == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[tool.tracefix\n", "not valid TOML", id="bad TOML"),
        pytest.param('[tool.tracefix]\nselct = ["CTX101"]\n', "unknown key 'selct'", id="typo"),
        pytest.param('[tool.tracefix]\nselect = "CTX101"\n', "must be a list", id="not a list"),
        pytest.param('[tool.tracefix]\nignore = ["XYZ"]\n', "'XYZ' matches no code", id="code"),
    ],
)
def test_a_bad_configuration_exits_2_with_one_line(make_project, tracefix_scan, text, message):
    root = make_project({"pyproject.toml": text})
    run = tracefix_scan(root)
    assert run.code == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith("tracefix: error: ") and "pyproject.toml" in line and message in line


def test_an_explicit_configuration_file(make_project, tracefix_scan):
    root = make_project(
        {
            "scripts/seed_db.py": SCRIPT.format(comment=""),
            "ci/tracefix.toml": PYPROJECT.format(body='ignore = ["CTX101"]'),
        }
    )
    assert tracefix_scan(root, "--config", "ci/tracefix.toml").code == 0
    missing = tracefix_scan(root, "--config", "nowhere.toml")
    assert missing.code == 2 and "nowhere.toml: no such file" in missing.stderr


def test_specificity_decides_between_select_and_ignore():
    config = ScanConfig(select=("CTX1",), ignore=("CTX104",))
    assert [config.enabled(c) for c in ("CTX101", "CTX104", "ABC001")] == [True, False, False]
    assert ScanConfig().enabled("CTX117")
