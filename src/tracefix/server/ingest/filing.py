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

The four statements are SQL run on the driver's own cursor, inside the SQLAlchemy transaction
of the caller, for SQLite and PostgreSQL. Through SQLAlchemy Core they cost about 0.8 ms of CPU
a commit (statement set-up, events, result wrapping), three times what SQLite spends storing
the events, and the intake commits up to a thousand times a second. Other databases get a
plain SQLAlchemy insert, and all their events go to the digest.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import insert

from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.models import Event

#: Issue states in which another event only adds to the counts.
OPEN_STATUSES = ("unresolved", "regressed", "ignored")

_OPEN_ISSUES = (
    "SELECT group_hash.project_id, group_hash.fingerprint, issue.id"
    " FROM group_hash JOIN issue ON issue.id = group_hash.issue_id"
    " WHERE group_hash.project_id IN ({projects}) AND group_hash.fingerprint IN ({fingerprints})"
    " AND issue.status IN ({statuses}) AND issue.merged_into_id IS NULL"
    " ORDER BY issue.id{lock}"
)
_EVENT_COLUMNS = (
    "project_id, event_id, received_at, payload, digested, issue_id, release, environment"
)
_INSERT_EVENTS = (
    "INSERT INTO event (" + _EVENT_COLUMNS + ") VALUES {rows}"
    " ON CONFLICT (project_id, event_id) DO NOTHING"
    " RETURNING issue_id, release, environment"
)
_COUNT_ISSUE = (
    "UPDATE issue SET event_count = event_count + ?,"
    " last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END"
    " WHERE id = ?"
)
_COUNT_RELEASE = (
    "INSERT INTO issue_release"
    " (issue_id, release, environment, event_count, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (issue_id, release, environment) DO UPDATE SET"
    " event_count = issue_release.event_count + excluded.event_count,"
    " last_seen = CASE WHEN issue_release.last_seen < excluded.last_seen"
    " THEN excluded.last_seen ELSE issue_release.last_seen END"
)


@dataclass(frozen=True)
class StoredEvents:
    inserted: int
    filed: int

    @property
    def for_the_digest(self) -> int:
        return self.inserted - self.filed


@dataclass(frozen=True)
class _Driver:
    """How one driver wants its SQL and values: what SQLAlchemy would otherwise do for us."""

    placeholder: str
    lock_issues: str
    time: Callable[[dt.datetime], Any]
    flag: Callable[[bool], Any]

    def sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def marks(self, count: int) -> str:
        return ", ".join([self.placeholder] * count)


_DRIVERS = {
    # As SQLAlchemy stores them on SQLite: text, always with microseconds; booleans as 0 and 1.
    "sqlite": _Driver("?", "", lambda value: value.strftime("%Y-%m-%d %H:%M:%S.%f"), int),
    "postgresql": _Driver("%s", " FOR UPDATE OF issue", lambda value: value, bool),
}


def store_events(
    connection: Connection,
    events: Sequence[tuple[int, IncomingEvent]],
    received: dt.datetime,
) -> StoredEvents:
    """Insert ``(project_id, event)`` pairs, filing those of open issues; in the caller's
    transaction, which must commit before any of them is acknowledged."""
    driver = _DRIVERS.get(connection.dialect.name)
    if driver is None:
        connection.execute(insert(Event), [_row(p, e, received, None) for p, e in events])
        return StoredEvents(inserted=len(events), filed=0)
    cursor = connection.connection.cursor()
    try:
        issues = _open_issues(cursor, driver, events)
        seen = driver.time(received)
        values: list[Any] = []
        for project_id, event in events:
            issue_id = issues.get((project_id, event.fingerprint or ""))
            values += (
                project_id,
                event.event_id,
                seen,
                event.payload,
                driver.flag(issue_id is not None),
                issue_id,
                event.release,
                event.environment,
            )
        rows = ", ".join([f"({driver.marks(8)})"] * len(events))
        cursor.execute(driver.sql(_INSERT_EVENTS.format(rows=rows)), values)
        inserted = cursor.fetchall()
        filed = [row for row in inserted if row[0] is not None]
        if filed:
            _count(cursor, driver, filed, seen)
    finally:
        cursor.close()
    return StoredEvents(inserted=len(inserted), filed=len(filed))


def _row(
    project_id: int, event: IncomingEvent, received: dt.datetime, issue_id: int | None
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "event_id": event.event_id,
        "received_at": received,
        "payload": event.payload,
        "digested": issue_id is not None,
        "issue_id": issue_id,
        "release": event.release,
        "environment": event.environment,
    }


def _open_issues(
    cursor: Any, driver: _Driver, events: Sequence[tuple[int, IncomingEvent]]
) -> dict[tuple[int, str], int]:
    """The open issue of each ``(project_id, fingerprint)`` of the batch that has one."""
    wanted = {(project_id, e.fingerprint) for project_id, e in events if e.fingerprint}
    if not wanted:
        return {}
    projects = sorted({project_id for project_id, _ in wanted})
    fingerprints = sorted({fingerprint for _, fingerprint in wanted})
    query = _OPEN_ISSUES.format(
        projects=driver.marks(len(projects)),
        fingerprints=driver.marks(len(fingerprints)),
        statuses=driver.marks(len(OPEN_STATUSES)),
        lock=driver.lock_issues,
    )
    cursor.execute(query, [*projects, *fingerprints, *OPEN_STATUSES])
    return {
        (project_id, fingerprint): issue_id
        for project_id, fingerprint, issue_id in cursor.fetchall()
        if (project_id, fingerprint) in wanted
    }


def _count(cursor: Any, driver: _Driver, filed: Sequence[Any], seen: Any) -> None:
    per_issue = Counter(issue_id for issue_id, _, _ in filed)
    cursor.executemany(
        driver.sql(_COUNT_ISSUE),
        [(n, seen, seen, issue_id) for issue_id, n in sorted(per_issue.items())],
    )
    per_release = Counter(
        (issue_id, release or "", environment or "") for issue_id, release, environment in filed
    )
    cursor.executemany(
        driver.sql(_COUNT_RELEASE),
        [(*key, n, seen, seen) for key, n in sorted(per_release.items())],
    )
