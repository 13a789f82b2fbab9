"""``python -m tracefix.capture.record``: a case's event.json, recorded for real, reproducibly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracefix.capture.record import RecordError
from tracefix.capture.record import record_case
from tracefix.capture.record import stable_text
from tracefix.event import Event

from .conftest import FLASK_SQLALCHEMY_APP


def make_case(case_dir: Path, files: dict[str, str], command: str) -> Path:
    for relative, text in files.items():
        path = case_dir / "project" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (case_dir / "command.txt").write_text(command + "\n", encoding="utf-8")
    return case_dir


SEED_CASE = {
    "app.py": FLASK_SQLALCHEMY_APP,
    "scripts/__init__.py": "",
    "scripts/seed.py": """\
        from app import User, db


        def seed(count):
            users = [User() for _ in range(count)]
            db.session.add_all(users)


        seed(3)
    """,
}


def test_records_the_last_event_reproducibly(tmp_path: Path) -> None:
    case = make_case(tmp_path / "seed", SEED_CASE, "python -m scripts.seed")

    event = record_case(case, stream=False)
    first = (case / "event.json").read_bytes()
    record_case(case, stream=False)

    assert (case / "event.json").read_bytes() == first
    text = first.decode()
    assert str(tmp_path) not in text and "/tmp/" not in text
    assert sys.prefix not in text
    data = json.loads(text)
    assert data["event_id"] == "0" * 32
    assert "timestamp" not in data
    assert data["contexts"]["entry"] == {
        "type": "entry",
        "argv": ["python", "-m", "scripts.seed"],
        "cwd": ".",
        "test": None,
    }
    assert Event.from_dict(data) == event
    frames = event.frames
    seed_frame = next(f for f in frames if f.function == "seed")
    assert (seed_frame.filename, seed_frame.abs_path, seed_frame.in_app) == (
        "scripts/seed.py",
        "scripts/seed.py",
        True,
    )
    assert (
        seed_frame.vars["users"]
        == "[<User (transient 0)>, <User (transient 0)>, <User (transient 0)>]"
    )
    library = [f for f in frames if not f.in_app]
    assert library[0].abs_path == "/stdlib/runpy.py" or library[0].filename.startswith("<frozen")
    assert frames[-1].abs_path == "/site-packages/werkzeug/local.py"
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert all("thread_id" not in value for value in data["exception"]["values"])


def test_records_a_pytest_case_with_its_node_id(tmp_path: Path) -> None:
    case = make_case(
        tmp_path / "tests",
        {
            "app.py": FLASK_SQLALCHEMY_APP,
            "conftest.py": "",
            "tests/test_users.py": """\
            from app import User, db


            def test_count():
                assert db.session.query(User).count() == 0
        """,
        },
        "pytest -q -p no:cacheprovider tests/test_users.py",
    )

    event = record_case(case, stream=False)

    assert event.entry.test == "tests/test_users.py::test_count"
    assert event.entry.argv[0] == "pytest"
    assert event.frames[0].function == "test_count"


def test_no_event_is_an_error(tmp_path: Path) -> None:
    case = make_case(tmp_path / "fine", {"ok.py": "print('fine')\n"}, "python ok.py")

    with pytest.raises(RecordError, match="captured no event"):
        record_case(case, stream=False)

    assert not (case / "event.json").exists()


def test_command_line(tmp_path: Path) -> None:
    case = make_case(tmp_path / "cli", {"boom.py": "raise KeyError('x')\n"}, "python boom.py")

    result = subprocess.run(
        [sys.executable, "-m", "tracefix.capture.record", str(case)],
        capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("event.json: KeyError: 'x'")
    assert (
        Event.from_dict(json.loads((case / "event.json").read_text())).exception.type == "KeyError"
    )


def test_stable_text() -> None:
    root = Path("/tmp/tracefix-record-abc/project")
    text = (
        "<Obj at 0x7f3a2b1c0d90> <User (transient 140058750771344)> 42 "
        "datetime.datetime(2026, 11, 15, 0, 7, 39, 213524) datetime.date(2026, 1, 2) "
        "/tmp/tracefix-record-abc/project/app.py "
        "/home/u/.venv/lib/python3.11/site-packages/flask/app.py"
    )

    assert stable_text(text, (root, root.parent)) == (
        "<Obj at 0x0> <User (transient 0)> 42 datetime.datetime(...) datetime.date(...) "
        "app.py /site-packages/flask/app.py"
    )
