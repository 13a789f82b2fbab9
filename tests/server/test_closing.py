"""Release-aware closing: fixed or failed, by commit ancestry of the releases seen."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tracefix.server.closing import SeenRelease
from tracefix.server.closing import review_delivered_fixes
from tracefix.server.closing import verdict
from tracefix.server.models import Event
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.projects import create_project

from .conftest import state
from .test_loop import git

T0 = dt.datetime(2026, 11, 1, 12, 0)
HOUR = dt.timedelta(hours=1)


def seen(release: str, minutes: int, mine: bool) -> SeenRelease:
    return SeenRelease(release, T0 + dt.timedelta(minutes=minutes), mine)


def contains(release: str) -> bool | None:
    return {"old": False, "new": True}.get(release)


def test_the_verdict_waits_for_the_fixed_release_to_ship_and_stay_quiet() -> None:
    quiet = 3600
    assert verdict([], contains, T0 + 10 * HOUR, quiet) is None
    assert verdict([seen("old", 5, True)], contains, T0 + 10 * HOUR, quiet) is None
    shipped = [seen("old", 5, True), seen("new", 10, False)]
    assert verdict(shipped, contains, T0 + dt.timedelta(minutes=30), quiet) is None
    assert verdict(shipped, contains, T0 + 2 * HOUR, quiet) == "fixed"
    assert (
        verdict([*shipped, seen("new", 20, True)], contains, T0 + 2 * HOUR, quiet) == "fix_failed"
    )
    assert verdict([seen("unknown", 5, True)], contains, T0 + 2 * HOUR, quiet) is None


def test_review_closes_a_shipped_fix_and_reopens_a_failed_one(
    make_app: Any, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "app.py").write_text("print('v1')\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "v1")
    old = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "-b", "tracefix/issue-1")
    (work / "app.py").write_text("print('fixed')\n")
    git(work, "commit", "-qam", "the fix")
    fix_commit = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", "merge the fix", "tracefix/issue-1")
    new = git(work, "rev-parse", "HEAD")

    app = make_app()
    db = state(app).db
    with db.write_session() as session:
        project = create_project(session, "shop", str(work))
        issues = [Issue(project_id=project.id, title=t, first_seen=T0, last_seen=T0) for t in "ab"]
        session.add_all(issues)
        session.flush()
        fixed, failing = issues
        fixes = [
            Fix(issue_id=i.id, release=old, state="delivered", commit_sha=fix_commit, updated_at=T0)
            for i in issues
        ]
        session.add_all(fixes)

        def event(issue: Issue, release: str, minutes: int) -> Event:
            return Event(
                project_id=project.id,
                event_id=f"{issue.id}{release[:8]}{minutes:02d}".ljust(32, "0"),
                payload=json.dumps({}).encode(),
                digested=True,
                issue_id=issue.id,
                release=release,
                received_at=T0 + dt.timedelta(minutes=minutes),
            )

        session.add_all(
            [
                event(fixed, old, 1),  # before the fix shipped: says nothing
                event(
                    failing, new, 10
                ),  # the fixed release is live: the other issue's fix is proven
                event(failing, new, 20),  # and this one's failed
            ]
        )
        fixed_id, failing_id = fixed.id, failing.id

    decided = review_delivered_fixes(state(app).config, db, now=T0 + 3 * HOUR)
    with db.session() as session:
        by_issue = {f.issue_id: f for f in session.scalars(select(Fix))}
        assert by_issue[fixed_id].state == "fixed"
        assert by_issue[failing_id].state == "fix_failed"
        fixed_issue, failing_issue = session.get(Issue, fixed_id), session.get(Issue, failing_id)
        assert fixed_issue is not None and fixed_issue.status == "resolved"
        assert failing_issue is not None and failing_issue.status == "regressed"
    assert sorted(decided.values()) == ["fix_failed", "fixed"]
    assert review_delivered_fixes(state(app).config, db, now=T0 + 4 * HOUR) == {}
