"""verify_fix end to end: a real Flask + Flask-SQLAlchemy project, real git, real processes."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tracefix.capture.runner import run_captured
from tracefix.event import Event
from tracefix.event import ExceptionInfo
from tracefix.event import Frame
from tracefix.git import git
from tracefix.git import read_project
from tracefix.patch import FileChange
from tracefix.verify import worktree
from tracefix.verify.tests import PASSED
from tracefix.verify.verifier import verify_fix

PY = sys.executable
COMMAND = (PY, "-m", "scripts.seed_db")

PROJECT = {
    ".gitignore": "instance/\n__pycache__/\n",
    "app/__init__.py": """\
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        def create_app(test_config=None):
            app = Flask(__name__)
            app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///seed.db"
            if test_config:
                app.config.update(test_config)
            db.init_app(app)
            from app import models, views  # noqa: F401

            app.register_blueprint(views.bp)
            with app.app_context():
                db.create_all()
            return app
        """,
    "app/models.py": """\
        from app import db


        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            name = db.Column(db.String(80), unique=True, nullable=False)
        """,
    "app/views.py": """\
        from flask import Blueprint, jsonify

        from app import db
        from app.models import User

        bp = Blueprint("users", __name__)


        @bp.get("/users")
        def list_users():
            users = db.session.scalars(db.select(User).order_by(User.name)).all()
            return jsonify([user.name for user in users])
        """,
    "scripts/__init__.py": "",
    "scripts/seed_db.py": """\
        from app import db
        from app.models import User

        user = User(name="Admin")
        db.session.add(user)
        db.session.commit()
        """,
    "tests/conftest.py": """\
        import pytest

        from app import create_app, db


        @pytest.fixture
        def app():
            app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
            with app.app_context():
                yield app
                db.drop_all()


        @pytest.fixture
        def client(app):
            return app.test_client()
        """,
    "tests/test_users.py": """\
        from app import db
        from app.models import User


        def test_user_creation(app):
            user = User(name="Test")
            db.session.add(user)
            db.session.commit()
            assert user.id is not None


        def test_list_users(client):
            db.session.add_all([User(name="Bob"), User(name="Ada")])
            db.session.commit()
            response = client.get("/users")
            assert response.status_code == 200
            assert response.get_json() == ["Ada", "Bob"]
        """,
}

SCRIPT = "scripts/seed_db.py"
FIXED_SCRIPT = """\
from app import create_app, db
from app.models import User

app = create_app()
with app.app_context():
    user = User(name="Admin")
    db.session.add(user)
    db.session.commit()
"""


@pytest.fixture
def project(make_repo):
    root = make_repo(PROJECT)
    capture = run_captured(COMMAND, cwd=root, project_root=root, stream=False, timeout=120)
    assert capture.returncode == 1 and capture.events, capture.stderr_tail
    return root, capture.events[-1]


def change(root: Path, path: str, after: str) -> FileChange:
    return FileChange(path, (root / path).read_text(), after)


def verify(root: Path, event: Event, changes: list[FileChange], **options):
    return verify_fix(
        root, COMMAND, ".", event, changes, read_project(root), python=PY, timeout=120, **options
    )


def test_a_correct_fix_verifies_and_leaves_the_user_tree_alone(project):
    root, event = project
    status = git("status", "--porcelain", "--untracked-files=all", cwd=root).stdout
    result = verify(root, event, [change(root, SCRIPT, FIXED_SCRIPT)])

    assert result.reasons == ()
    assert result.verified
    assert result.reproduced
    assert result.reproduce_detail == "RuntimeError at scripts/seed_db.py:5 in <module>"
    assert (result.after_returncode, result.after_errors, result.leaks) == (0, (), ())
    assert result.after_stderr_tail == ""
    assert result.regressions == () and result.integrity_problems == ()
    assert dict(result.tests_before.outcomes) == {
        "tests/test_users.py::test_user_creation": PASSED,
        "tests/test_users.py::test_list_users": PASSED,
    }
    assert result.tests_after.outcomes == result.tests_before.outcomes
    assert set(result.timings) == {
        "worktree",
        "reproduce",
        "after",
        "tests_before",
        "tests_after",
        "own",
    }
    assert all(seconds > 0 for seconds in result.timings.values())
    assert (root / SCRIPT).read_text() == PROJECT[SCRIPT].replace("        ", "")
    assert git("status", "--porcelain", "--untracked-files=all", cwd=root).stdout == status
    assert git("worktree", "list", cwd=root).stdout.count("\n") == 1


def test_a_test_cmd_in_an_ignored_folder_runs_from_the_users_tree(project):
    """``--test-cmd .venv/bin/python tests.py``: the worktree has no ``.venv`` (ignored, never
    copied), so the program is the user's, as the failing command's is."""
    root, event = project
    venv = root / "instance"
    venv.mkdir(exist_ok=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    check = venv / "check"
    check.write_text('#!/bin/sh\necho checked in "$PWD"\n')
    check.chmod(0o755)
    result = verify(root, event, [change(root, SCRIPT, FIXED_SCRIPT)], test_cmd=("instance/check",))

    assert result.verified, result.reasons
    assert (result.tests_before.returncode, result.tests_after.returncode) == (0, 0)
    assert "checked in" in result.tests_after.output_tail
    assert str(root) not in result.tests_after.output_tail


def test_a_fix_that_breaks_a_test_is_rejected(project):
    root, event = project
    views = (root / "app/views.py").read_text().replace("order_by(User.name)", "order_by(User.id)")
    result = verify(
        root, event, [change(root, SCRIPT, FIXED_SCRIPT), change(root, "app/views.py", views)]
    )

    assert not result.verified
    assert result.regressions == ("tests/test_users.py::test_list_users",)
    assert result.reasons == (
        "the fix breaks 1 test that passed before: tests/test_users.py::test_list_users",
    )


def test_a_fix_that_deletes_an_assert_is_rejected(project):
    root, event = project
    tests = (
        (root / "tests/test_users.py")
        .read_text()
        .replace('    assert response.get_json() == ["Ada", "Bob"]\n', "")
    )
    result = verify(
        root,
        event,
        [change(root, SCRIPT, FIXED_SCRIPT), change(root, "tests/test_users.py", tests)],
    )

    assert not result.verified
    assert result.after_returncode == 0 and result.regressions == ()
    assert result.integrity_problems == (
        "tests/test_users.py::test_list_users: the fix removes or edits "
        "`assert response.get_json() == ['Ada', 'Bob']`",
    )
    assert result.reasons == result.integrity_problems


def test_a_push_without_pop_is_rejected(project):
    root, event = project
    pushed = FIXED_SCRIPT.replace(
        "with app.app_context():\n", "app.app_context().push()\nif True:\n"
    )
    result = verify(root, event, [change(root, SCRIPT, pushed)])

    assert not result.verified
    assert result.after_returncode == 0 and result.after_errors == ()
    assert result.integrity_problems == (
        "scripts/seed_db.py:5: `app.app_context().push()` has no matching pop(); "
        "use `with app.app_context():` instead",
    )
    assert len(result.leaks) == 1 and result.leaks[0].startswith("at exit")
    assert result.reasons[-1].startswith("the fix leaves a Flask context pushed (at exit")


def test_a_fix_that_does_not_fix_is_rejected(project):
    root, event = project
    result = verify(
        root, event, [change(root, SCRIPT, "# seeding\n" + (root / SCRIPT).read_text())]
    )

    assert not result.verified
    assert result.after_returncode == 1
    assert result.after_errors == ("RuntimeError at scripts/seed_db.py:6 in <module>",)
    assert result.reasons == (
        "after the fix the command still raises RuntimeError at scripts/seed_db.py:6 in <module>",
    )


def test_a_fix_whose_command_still_fails_keeps_the_end_of_what_it_wrote(project):
    root, event = project
    exits = "import sys\n\nsys.stderr.write('seeding...\\nno such table: user\\n')\nsys.exit(3)\n"
    result = verify(root, event, [change(root, SCRIPT, exits)])

    assert not result.verified
    assert (result.after_returncode, result.after_errors) == (3, ())
    assert result.after_stderr_tail == "seeding...\nno such table: user"


#: A resource outside the worktrees that the fixed command holds while it runs and the tests
#: refuse to share, as a suite that drops and makes its tables in a shared PostgreSQL does
#: (Redash's): side by side, the tests that passed before the fix fail after it.
HOLDS = """\
import os
import time

open({lock!r}, "w").close()
try:
    time.sleep(4)
finally:
    os.remove({lock!r})
"""
REFUSES = """\
import os

import pytest


@pytest.fixture(autouse=True)
def database_to_ourselves():
    assert not os.path.exists({lock!r}), "the database is in use"
"""


def test_a_fix_rejected_beside_a_suite_sharing_a_resource_is_checked_again_alone(
    make_repo, tmp_path
):
    lock = str(tmp_path / "db.lock")
    conftest = textwrap.dedent(PROJECT["tests/conftest.py"]) + REFUSES.format(lock=lock)
    root = make_repo({**PROJECT, "tests/conftest.py": conftest})
    capture = run_captured(COMMAND, cwd=root, project_root=root, stream=False, timeout=120)
    assert capture.returncode == 1 and capture.events, capture.stderr_tail
    fixed = HOLDS.format(lock=lock) + FIXED_SCRIPT
    result = verify(root, capture.events[-1], [change(root, SCRIPT, fixed)])

    assert result.verified, result.reasons
    assert set(result.tests_after.outcomes.values()) == {PASSED}


def local_database(root: Path) -> Path:
    """The user's own ignored SQLite database, holding a table only it has."""
    (root / "instance").mkdir(exist_ok=True)
    path = root / "instance" / "seed.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE local_only (id INTEGER)")
        connection.commit()
    return path


READS_LOCAL_TABLE = FIXED_SCRIPT.replace(
    '    user = User(name="Admin")\n',
    '    db.session.execute(db.text("SELECT * FROM local_only"))\n    user = User(name="Admin")\n',
)


def test_local_state_is_copied_in_and_the_users_copy_is_never_written(project):
    """A seed script that needs the user's ignored local database verifies against a copy."""
    root, event = project
    database = local_database(root)
    before = database.read_bytes()
    (root / "__pycache__").mkdir(exist_ok=True)

    result = verify(root, event, [change(root, SCRIPT, READS_LOCAL_TABLE)], run_tests=False)

    assert result.verified, result.reasons
    assert database.read_bytes() == before


def test_a_fix_that_gets_past_the_error_into_another_says_which(project, monkeypatch):
    """When local state was too big to copy, a new error after the fix names what was left out
    rather than saying "still raises"."""
    root, event = project
    local_database(root)
    monkeypatch.setattr(worktree, "MAX_LOCAL_FILE_BYTES", 10)

    result = verify(root, event, [change(root, SCRIPT, READS_LOCAL_TABLE)], run_tests=False)

    assert not result.verified
    assert len(result.reasons) == 1
    reason = result.reasons[0]
    assert reason.startswith(
        "after the fix the command gets past that RuntimeError but raises OperationalError at "
    )
    assert "no such table: local_only" in reason
    assert reason.endswith(
        "(files git ignores in your tree were too big to copy into the worktree: "
        "instance/seed.db; does the command need them?)"
    )


def test_an_event_that_does_not_reproduce_says_so(project):
    root, event = project
    elsewhere = replace(
        event,
        exceptions=(
            ExceptionInfo(
                type="RuntimeError",
                value="Working outside of application context.",
                frames=(Frame("scripts/seed_db.py", "seed", 12, in_app=True),),
            ),
        ),
    )
    result = verify(root, elsewhere, [change(root, SCRIPT, FIXED_SCRIPT)])

    assert not result.reproduced and not result.verified
    assert (
        result.reproduce_detail
        == "it raised RuntimeError at scripts/seed_db.py:5 in <module> instead"
    )
    assert result.reasons == (f"did not reproduce: {result.reproduce_detail}",)
    assert result.after_returncode is None and result.tests_after is None


def test_uncommitted_work_is_part_of_what_is_verified(project):
    root, event = project
    (root / "scripts" / "seed_db.py").write_text("print('the user already fixed it')\n")
    result = verify(root, event, [change(root, SCRIPT, FIXED_SCRIPT)], run_tests=False)

    assert not result.reproduced
    assert (
        result.reproduce_detail
        == "the command exited 0 and raised no exception in a clean worktree"
    )
    assert result.tests_before is None


def test_ctrl_c_stops_the_command_and_the_tests_and_removes_the_worktrees(make_repo, tmp_path):
    marker = tmp_path / "still-running"
    slow = (
        f"import time, pathlib\ntime.sleep(5)\npathlib.Path({str(marker)!r}).write_text('late')\n"
    )
    root = make_repo({"slow.py": slow, "test_slow.py": f"def test_slow():\n    exec({slow!r})\n"})
    driver = tmp_path / "driver.py"
    driver.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from tracefix.event import Event, ExceptionInfo\n"
        "from tracefix.git import read_project\n"
        "from tracefix.verify.verifier import verify_fix\n"
        f"root = Path({str(root)!r})\n"
        "event = Event((ExceptionInfo('RuntimeError', 'x'),))\n"
        "print('started', flush=True)\n"
        "verify_fix(root, [sys.executable, 'slow.py'], '.', event, [], read_project(root),\n"
        "           python=sys.executable, timeout=60)\n"
    )
    proc = subprocess.Popen(
        [PY, str(driver)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "started\n"
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)

    assert "KeyboardInterrupt" in stderr
    assert git("worktree", "list", "--porcelain", cwd=root).stdout.count("worktree ") == 1
    time.sleep(5)
    assert not marker.exists(), "a process of the verification outlived Ctrl-C"


SEEDING = """\
from app import db
from app.models import User


def seed():
    db.session.add(User(name="Admin"))
    db.session.commit()
"""


def test_a_flat_layout_editable_install_is_verified_from_the_worktree(make_repo, tmp_path):
    """``pip install -e .`` of a flat layout (Flask's tutorial, flit): a ``.pth`` line puts the
    user's checkout on ``sys.path``; the runs in the worktree must import the fixed code from the
    worktree, not the unfixed code from the checkout."""
    import sysconfig

    root = make_repo(
        {
            **PROJECT,
            "app/seeding.py": SEEDING,
            SCRIPT: "from app.seeding import seed\n\nseed()\n",
        }
    )
    venv = tmp_path / "venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [sysconfig.get_path("purelib"), str(root)]
    (Path(site_packages) / "_editable_repo.pth").write_text("\n".join(lines) + "\n")
    command = (python, SCRIPT)
    capture = run_captured(command, cwd=root, project_root=root, stream=False, timeout=120)
    assert capture.returncode == 1 and capture.events, capture.stderr_tail
    fixed = SEEDING.replace("from app import db", "from app import create_app, db").replace(
        '    db.session.add(User(name="Admin"))\n    db.session.commit()\n',
        "    with create_app().app_context():\n"
        '        db.session.add(User(name="Admin"))\n'
        "        db.session.commit()\n",
    )

    result = verify_fix(
        root,
        command,
        ".",
        capture.events[-1],
        [change(root, "app/seeding.py", fixed)],
        read_project(root),
        python=python,
        timeout=120,
    )

    assert result.reproduced, result.reproduce_detail
    assert result.verified, result.reasons
