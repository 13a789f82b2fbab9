"""``tracefix scan`` as a process: its formats, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: A script that fails at its first statement that needs a context: CTX101 at line 5.
SEED_SCRIPT = """\
from app import db
from app.models import User

user = User(name="Admin")
db.session.add(user)
db.session.commit()
"""
SEED = {"scripts/seed_db.py": SEED_SCRIPT}


def test_text_names_the_place_the_code_and_the_fix(make_project, tracefix_scan):
    root = make_project(SEED)
    run = tracefix_scan(root)
    assert run.code == 1
    first, *rest = run.stdout.splitlines()
    assert first.startswith("scripts/seed_db.py:5:1: CTX101 [*] `db.session` needs an app context")
    assert "Found 1 finding." in rest
    assert run.stderr == ""


def test_nothing_found_exits_0(make_project, tracefix_scan):
    run = tracefix_scan(make_project())
    assert (run.code, run.stdout.strip()) == (0, "All checks passed!")


def test_json_lists_findings_with_their_location_and_fix(make_project, tracefix_scan):
    run = tracefix_scan(make_project(SEED), "--format", "json")
    assert run.code == 1
    document = json.loads(run.stdout)
    (finding,) = document["findings"]
    assert finding["code"] == "CTX101"
    assert (finding["path"], finding["line"], finding["column"]) == ("scripts/seed_db.py", 5, 1)
    assert finding["fix"]["applicability"] == "safe"
    assert finding["facts"]["line"] == 5
    assert document["errors"] == []


#: A query at the top level of a module the factory imports: CTX110, with no safe move.
IMPORT_TIME_QUERY = {
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            from app import report

            return app
        """,
    "app/report.py": """\
        from app import db
        from app.models import User

        USERS = db.session.query(User).count()
        """,
}


def test_a_finding_without_a_fix_is_not_marked_fixable(make_project, tracefix_scan):
    root = make_project(IMPORT_TIME_QUERY)
    text = tracefix_scan(root)
    (first, found) = text.stdout.splitlines()
    assert first.startswith("app/report.py:4:9: CTX110 app/report.py:4 runs")
    assert "no safe move applies" in first
    assert found == "Found 1 finding."
    (finding,) = json.loads(tracefix_scan(root, "--format", "json").stdout)["findings"]
    assert (finding["code"], finding["fix"]) == ("CTX110", None)
    fixed = tracefix_scan(root, "--fix")
    assert (fixed.code, fixed.stderr) == (1, "")
    assert (root / "app/report.py").read_text().endswith("count()\n")


#: CTFd's populate.py, its ``with app.app_context():`` taken away: the extension is reached
#: through the app (``db = app.db``, set by the factory), which the reading does not follow,
#: so the first use the scan knows of (``User.query``) comes after the first failure.
THROUGH_THE_APP = {
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app():
            app = Flask(__name__)
            app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite://")
            db.init_app(app)
            app.db = db
            return app
        """,
    "populate.py": """\
        from app import create_app
        from app.models import User

        app = create_app()

        if __name__ == "__main__":
            db = app.db
            print("generating users")
            db.create_all()
            for number in range(3):
                db.session.add(User(name=f"user {number}"))
            db.session.commit()
            print(User.query.count(), "users")
        """,
}


def test_scan_fix_covers_an_earlier_statement_the_reading_did_not_follow(
    make_project, tracefix_scan
):
    root = make_project(THROUGH_THE_APP)
    (finding,) = json.loads(tracefix_scan(root, "--format", "json").stdout)["findings"]
    assert (finding["code"], finding["line"]) == ("CTX101", 13)
    assert tracefix_scan(root, "--fix").code == 0
    assert (root / "populate.py").read_text().splitlines()[6:10] == [
        "    db = app.db",
        '    print("generating users")',
        "    with app.app_context():",
        "        db.create_all()",
    ]
    ran = subprocess.run(
        [sys.executable, "populate.py"], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert (ran.returncode, ran.stdout) == (0, "generating users\n3 users\n"), ran.stderr


def test_a_fix_declined_under_fix_is_no_longer_offered(make_project, tracefix_scan):
    """No app anywhere to push: ``--fix`` says why it did not fix, and stops offering to."""
    root = make_project(SEED, name="no-app")
    (root / "app/__init__.py").write_text(
        "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"
    )
    (root / "wsgi.py").unlink()
    assert "[*] 1 with a safe fix" in tracefix_scan(root).stdout
    fixed = tracefix_scan(root, "--fix")
    assert fixed.code == 1
    assert fixed.stderr.startswith("scripts/seed_db.py:5:1: CTX101 not fixed: no single Flask app")
    assert "[*]" not in fixed.stdout and "--fix" not in fixed.stdout
    assert fixed.stdout.endswith("Found 1 finding.\n")


def test_sarif_has_the_structure_code_scanning_requires(make_project, tracefix_scan):
    run = tracefix_scan(make_project(SEED), "--format", "sarif")
    assert run.code == 1
    sarif = json.loads(run.stdout)
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (sarif_run,) = sarif["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "tracefix"
    rules = driver["rules"]
    assert all(rule["id"] and rule["shortDescription"]["text"] for rule in rules)
    assert len({rule["id"] for rule in rules}) == len(rules)
    (result,) = sarif_run["results"]
    assert result["ruleId"] == "CTX101"
    assert rules[result["ruleIndex"]]["id"] == "CTX101"
    assert result["level"] == "error" and result["message"]["text"]
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "scripts/seed_db.py"
    assert physical["region"] == {"startLine": 5, "startColumn": 1}
    assert sarif_run["invocations"][0]["executionSuccessful"] is True


def test_github_annotations(make_project, tracefix_scan):
    run = tracefix_scan(make_project(SEED), "--format", "github")
    assert run.code == 1
    (line,) = run.stdout.splitlines()
    assert line.startswith(
        "::error title=tracefix (CTX101),file=scripts/seed_db.py,line=5,col=1::CTX101 "
    )


def test_github_escapes_what_workflow_commands_reserve(make_project, tracefix_scan):
    root = make_project({"scripts/100%, done.py": SEED_SCRIPT})
    (line,) = tracefix_scan(root, "--format", "github").stdout.splitlines()
    assert "file=scripts/100%25%2C done.py," in line


def test_a_syntax_error_is_one_line_and_the_other_files_are_still_checked(
    make_project, tracefix_scan
):
    root = make_project({**SEED, "scripts/broken.py": "def f(:\n    pass\n"})
    run = tracefix_scan(root)
    assert run.code == 1
    errors = [line for line in run.stdout.splitlines() if "SyntaxError" in line]
    assert errors == ["scripts/broken.py:1:7: SyntaxError: invalid syntax"]
    assert "scripts/seed_db.py:5:1: CTX101" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_a_syntax_error_appears_in_every_format(make_project, tracefix_scan):
    root = make_project({"broken.py": "x = (\n"})
    document = json.loads(tracefix_scan(root, "--format", "json").stdout)
    assert [error["path"] for error in document["errors"]] == ["broken.py"]
    sarif = json.loads(tracefix_scan(root, "--format", "sarif").stdout)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "SyntaxError" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    github = tracefix_scan(root, "--format", "github")
    assert github.code == 1 and github.stdout.startswith("::error title=tracefix,file=broken.py")


def test_a_syntax_error_names_the_newer_python_the_project_requires(make_project, tracefix_scan):
    # As Python 3.12's f-strings are to 3.11 (``f'{', '.join(names)}'``): the hint names what
    # the project requires, whatever the syntax, so the test holds on any Python.
    for requires, named in ((">=3.99", True), (">=3.8", False)):
        root = make_project(
            {"pyproject.toml": f"[project]\nrequires-python = '{requires}'\n", "tool.py": "(\n"},
            name=requires,
        )
        (error,) = json.loads(tracefix_scan(root, "--format", "json").stdout)["errors"]
        assert ("the project requires Python >=3.99; tracefix runs on" in error["message"]) is named


def test_paths_limit_what_is_reported_not_what_is_read(make_project, tracefix_scan):
    root = make_project({**SEED, "tools/other.py": SEED_SCRIPT})
    run = tracefix_scan(root, "tools")
    assert run.code == 1
    assert "tools/other.py:5:1: CTX101" in run.stdout
    assert "seed_db" not in run.stdout
    assert tracefix_scan(root, "app", "wsgi.py").code == 0


def test_paths_are_shown_from_the_working_directory(make_project, tracefix_scan):
    root = make_project(SEED)
    run = tracefix_scan(root / "scripts")
    assert run.stdout.startswith("seed_db.py:5:1: CTX101")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["--format", "xml"], "Invalid value for '--format'", id="unknown format"),
        pytest.param(["missing.py"], "missing.py: no such file or directory", id="missing path"),
        pytest.param(["--select", "CTX999"], "'CTX999' matches no code", id="unknown code"),
        pytest.param(["--frobnicate"], "No such option '--frobnicate'", id="unknown option"),
    ],
)
def test_usage_errors_exit_2_with_one_line(make_project, tracefix_scan, arguments, message):
    run = tracefix_scan(make_project(SEED), *arguments)
    assert run.code == 2
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith("tracefix: error: ") and message in line


def test_a_path_outside_the_project_is_a_usage_error(make_project, tracefix_scan, tmp_path):
    root = make_project(SEED)
    (tmp_path / "elsewhere.py").write_text("x = 1\n")
    run = tracefix_scan(root, str(tmp_path / "elsewhere.py"))
    assert run.code == 2 and "is outside the project" in run.stderr


def test_help_lists_the_formats(tracefix_scan, tmp_path: Path):
    run = tracefix_scan(tmp_path, "--help")
    assert run.code == 0
    assert "--format [text|json|sarif|github]" in run.stdout
