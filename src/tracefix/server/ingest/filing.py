"""Storing a batch of events, and filing those of open issues in the same transaction.

Most events under load belong to an issue that exists and is open (unresolved, regressed or
ignored, not merged away): grouping them decides nothing, it adds to counts. The intake does
that in the transaction that stores them, so such an event is in its issue the moment it is
acknowledged, and the digest does not read and parse it again. Every other event (a new
fingerprint, an issue that is resolved and may regress, an event the protocol could not
fingerprint) is stored undigested for the digest, which creates and reopens issues and starts
fix attempts: the decisions stay in one place.

The counts are those the digest keeps: the issue's ``event_count`` and ``last_seen``, and one
``IssueRelease`` row per release and environment. Only rows actually inserted count: an event
id seen before (an SDK retrying after a lost answer) is skipped by the insert and not counted.
On PostgreSQL the open issues are locked (``FOR UPDATE``, in id order) until the commit, so a
person resolving or merging one waits for it instead of racing it; on SQLite the transaction
holds the database's write lock from its start.

The statements are built once per dialect: building a SQLAlchemy statement (and its cache key)
costs more than running it on SQLite, and this runs once per commit.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import DateTime
from sqlalchemy import Executable
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.models import Event
from tracefix.server.models import GroupHash
from tracefix.server.models import Issue
from tracefix.server.models import IssueRelease

#: Issue states in which another event only adds to the counts.
OPEN_STATUSES = ("unresolved", "regressed", "ignored")


@dataclass(frozen=True)
class StoredEvents:
    inserted: int
    filed: int

    @property
    def for_the_digest(self) -> int:
        return self.inserted - self.filed


@dataclass(frozen=True)
class _Statements:
    open_issues: Executable
    insert_events: Executable
    count_issues: Executable
    count_releases: Executable


def store_events(
    connection: Connection,
    events: Sequence[tuple[int, IncomingEvent]],
    received: dt.datetime,
) -> StoredEvents:
    """Insert ``(project_id, event)`` pairs, filing those of open issues; in the caller's
    transaction, which must commit before any of them is acknowledged."""
    statements = _statements(connection.dialect.name)
    issues = _open_issues(connection, statements, events) if statements is not None else {}
    rows = []
    for project_id, event in events:
        issue_id = issues.get((project_id, event.fingerprint or ""))
        rows.append(
            {
                "project_id": project_id,
                "event_id": event.event_id,
                "received_at": received,
                "payload": event.payload,
                "digested": issue_id is not None,
                "issue_id": issue_id,
                "release": event.release,
                "environment": event.environment,
            }
        )
    if statements is None:
        connection.execute(insert(Event), rows)
        return StoredEvents(inserted=len(rows), filed=0)
    inserted = connection.execute(statements.insert_events, rows).all()
    filed = [row for row in inserted if row.issue_id is not None]
    if filed:
        _count(connection, statements, filed, received)
    return StoredEvents(inserted=len(inserted), filed=len(filed))


@functools.cache
def _statements(dialect: str) -> _Statements | None:
    """The statements for ``dialect``; None where there is no upsert (events then all go to
    the digest, and a repeated event id is the unique constraint's error)."""
    if dialect not in ("sqlite", "postgresql"):
        return None
    upsert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    open_issues = (
        select(GroupHash.project_id, GroupHash.fingerprint, Issue.id)
        .join(Issue, Issue.id == GroupHash.issue_id)
        .where(
            GroupHash.project_id.in_(bindparam("projects", expanding=True)),
            GroupHash.fingerprint.in_(bindparam("fingerprints", expanding=True)),
            Issue.status.in_(OPEN_STATUSES),
            Issue.merged_into_id.is_(None),
        )
        .order_by(Issue.id)
    )
    if dialect == "postgresql":
        open_issues = open_issues.with_for_update(of=Issue)
    insert_events = (
        upsert(Event)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(Event.issue_id, Event.release, Event.environment)
    )
    seen = bindparam("filed_seen", type_=DateTime())
    count_issues = (
        update(Issue)
        .where(Issue.id == bindparam("filed_issue_id"))
        .values(
            event_count=Issue.event_count + bindparam("filed_count"),
            last_seen=case((Issue.last_seen < seen, seen), else_=Issue.last_seen),
        )
    )
    releases = upsert(IssueRelease)
    later = releases.excluded.last_seen
    count_releases = releases.on_conflict_do_update(
        index_elements=["issue_id", "release", "environment"],
        set_={
            "event_count": IssueRelease.event_count + releases.excluded.event_count,
            "last_seen": case(
                (IssueRelease.last_seen < later, later), else_=IssueRelease.last_seen
            ),
        },
    )
    return _Statements(open_issues, insert_events, count_issues, count_releases)


def _open_issues(
    connection: Connection,
    statements: _Statements,
    events: Sequence[tuple[int, IncomingEvent]],
) -> dict[tuple[int, str], int]:
    """The open issue of each ``(project_id, fingerprint)`` of the batch that has one."""
    wanted = {(project_id, e.fingerprint) for project_id, e in events if e.fingerprint}
    if not wanted:
        return {}
    found = connection.execute(
        statements.open_issues,
        {
            "projects": sorted({project_id for project_id, _ in wanted}),
            "fingerprints": sorted({fingerprint for _, fingerprint in wanted}),
        },
    )
    return {
        (project_id, fingerprint): issue_id
        for project_id, fingerprint, issue_id in found
        if (project_id, fingerprint) in wanted
    }


def _count(
    connection: Connection, statements: _Statements, filed: Sequence[Any], seen: dt.datetime
) -> None:
    per_issue = Counter(row.issue_id for row in filed)
    connection.execute(
        statements.count_issues,
        [
            {"filed_issue_id": issue, "filed_count": n, "filed_seen": seen}
            for issue, n in sorted(per_issue.items())
        ],
    )
    per_release = Counter((row.issue_id, row.release or "", row.environment or "") for row in filed)
    connection.execute(
        statements.count_releases,
        [
            {
                "issue_id": issue,
                "release": release,
                "environment": environment,
                "event_count": n,
                "first_seen": seen,
                "last_seen": seen,
            }
            for (issue, release, environment), n in sorted(per_release.items())
        ],
    )
