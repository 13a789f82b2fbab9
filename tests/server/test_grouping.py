"""Grouping: the fingerprint, and the digest that turns stored events into issues."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tracefix.server.db import Database
from tracefix.server.digest import digest_pending
from tracefix.server.grouping import group
from tracefix.server.models import Event
from tracefix.server.models import Issue
from tracefix.server.models import IssueRelease
from tracefix.server.models import utcnow
from tracefix.server.projects import create_project

CONTEXT_ERROR = "Working outside of application context."


def error(frames: list[tuple[str, str, str, int]], message: str = CONTEXT_ERROR) -> dict[str, Any]:
    return {
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": message,
                    "stacktrace": {
                        "frames": [
                            {
                                "module": m,
                                "function": f,
                                "context_line": line,
                                "lineno": n,
                                "in_app": not m.startswith("flask"),
                            }
                            for m, f, line, n in frames
                        ]
                    },
                }
            ]
        }
    }


THREAD = [
    ("app.views", "signup", "    thread.start()", 20),
    ("app.mail", "send", "    db.session.add(m)", 9),
    ("flask.globals", "_lookup", "raise RuntimeError(msg)", 50),
]
SCRIPT = [
    ("scripts.seed", "<module>", "db.session.add(m)", 4),
    ("flask.globals", "_lookup", "raise RuntimeError(msg)", 50),
]


def test_line_numbers_and_library_frames_do_not_split_an_issue() -> None:
    moved = copy.deepcopy(error(THREAD))
    for frame in moved["exception"]["values"][0]["stacktrace"]["frames"]:
        frame["lineno"] += 7
        frame["context_line"] = "  " + frame["context_line"] + "   "
    moved["exception"]["values"][0]["stacktrace"]["frames"][-1]["context_line"] = "other"
    assert group(moved).fingerprint == group(error(THREAD)).fingerprint


def test_the_same_message_from_two_code_paths_makes_two_issues() -> None:
    thread, script = group(error(THREAD)), group(error(SCRIPT))
    assert thread.fingerprint != script.fingerprint
    assert thread.title == script.title == f"RuntimeError: {CONTEXT_ERROR}"
    assert thread.culprit == "app.mail in send"
    assert script.culprit == "scripts.seed in <module>"


def test_an_sdk_fingerprint_wins_and_can_extend_the_default() -> None:
    custom = {**error(THREAD), "fingerprint": ["mail-outage"]}
    assert (
        group(custom).fingerprint
        == group({**error(SCRIPT), "fingerprint": ["mail-outage"]}).fingerprint
    )
    extended = {**error(THREAD), "fingerprint": ["{{ default }}", "eu"]}
    assert group(extended).fingerprint not in {
        group(error(THREAD)).fingerprint,
        group(custom).fingerprint,
    }


def test_a_message_without_a_stack_groups_on_its_shape() -> None:
    first = {"logentry": {"formatted": "order 1234 failed for 'ada'"}}
    second = {"logentry": {"formatted": "order 98 failed for 'bob'"}}
    assert group(first).fingerprint == group(second).fingerprint
    assert group(first).title == "order 1234 failed for 'ada'"


# --- the digest, on SQLite and PostgreSQL ----------------------------------------------------

POSTGRES_URL = os.environ.get("TRACEFIX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/t.db")
    else:
        db = Database(POSTGRES_URL)
        try:
            with db.engine.connect() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                connection.commit()
        except OperationalError:
            if os.environ.get("CI"):
                raise
            pytest.skip("PostgreSQL is not reachable")
    db.upgrade()
    yield db
    db.dispose()


def store(
    db: Database, project_id: int, event: dict[str, Any], event_id: str, release: str = "r1"
) -> None:
    with db.write_session() as session:
        session.add(
            Event(
                project_id=project_id,
                event_id=event_id,
                payload=json.dumps(event).encode(),
                release=release,
                environment="production",
                received_at=utcnow(),
            )
        )


def test_the_digest_groups_counts_and_reports_new_and_regressed_issues(database: Database) -> None:
    with database.write_session() as session:
        project_id = create_project(session, "shop").id
    for n in range(3):
        store(database, project_id, error(THREAD), f"{n:032x}", release="r1" if n < 2 else "r2")
    store(database, project_id, error(SCRIPT), f"{9:032x}")

    result = digest_pending(database)
    assert result.events == 4
    assert len(result.new_issues) == 2 and result.regressed_issues == []
    with database.session() as session:
        issues = {i.culprit: i for i in session.scalars(select(Issue))}
        thread = issues["app.mail in send"]
        assert thread.event_count == 3 and issues["scripts.seed in <module>"].event_count == 1
        releases = {
            (r.release, r.environment): r.event_count
            for r in session.scalars(select(IssueRelease).where(IssueRelease.issue_id == thread.id))
        }
        assert releases == {("r1", "production"): 2, ("r2", "production"): 1}
        assert all(e.digested for e in session.scalars(select(Event)))

    assert digest_pending(database).events == 0  # idempotent: nothing left to take
    with database.write_session() as session:
        resolved = session.get(Issue, thread.id)
        assert resolved is not None
        resolved.status, resolved.resolved_at = "resolved", utcnow()
    store(database, project_id, error(THREAD), f"{10:032x}", release="r3")
    result = digest_pending(database)
    assert result.new_issues == [] and result.regressed_issues == [thread.id]
    with database.session() as session:
        regressed = session.get(Issue, thread.id)
        assert (
            regressed is not None and regressed.status == "regressed" and regressed.event_count == 4
        )
