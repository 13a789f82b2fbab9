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

The statements are SQL run on the driver's own cursor. Through SQLAlchemy Core they cost about
0.8 ms of CPU a commit (statement set-up, events, result wrapping), three times what SQLite
spends storing the events, and the intake commits up to a thousand times a second. On SQLite,
four statements (each a call into the library, no round trip) in the caller's transaction. On
PostgreSQL, where each statement is a round trip to the server, one: it locks the open issues,
inserts the events from arrays and counts them in their issues. On ``EventWriter``'s
connection, in autocommit mode, that statement is its own transaction,
committed (and flushed to the WAL: ``synchronous_commit`` is left on) before the server
answers it, so a batch costs one round trip where ``BEGIN`` and ``COMMIT`` would add two. Its
text never changes with the batch's size, so the driver prepares it once, and its parameters
go in binary: an event's payload as is, where the text format would escape it to twice its
size on both sides. Other databases get a plain SQLAlchemy insert in the caller's transaction,
and all their events go to the digest.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import insert

from tracefix.server.db import Database
from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.models import Event

#: Issue states in which another event only adds to the counts.
OPEN_STATUSES = ("unresolved", "regressed", "ignored")
_OPEN = ", ".join(f"'{status}'" for status in OPEN_STATUSES)

_SQLITE_OPEN_ISSUES = (
    "SELECT group_hash.project_id, group_hash.fingerprint, issue.id"
    " FROM group_hash JOIN issue ON issue.id = group_hash.issue_id"
    " WHERE group_hash.project_id IN ({projects}) AND group_hash.fingerprint IN ({fingerprints})"
    f" AND issue.status IN ({_OPEN})"
    " AND issue.merged_into_id IS NULL"
)
_SQLITE_INSERT_EVENTS = (
    "INSERT INTO event (project_id, event_id, received_at, payload, digested, issue_id, release,"
    " environment) VALUES {rows}"
    " ON CONFLICT (project_id, event_id) DO NOTHING"
    " RETURNING issue_id, release, environment"
)
_SQLITE_COUNT_ISSUE = (
    "UPDATE issue SET event_count = event_count + ?,"
    " last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END"
    " WHERE id = ?"
)
_SQLITE_COUNT_RELEASE = (
    "INSERT INTO issue_release"
    " (issue_id, release, environment, event_count, first_seen, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (issue_id, release, environment) DO UPDATE SET"
    " event_count = issue_release.event_count + excluded.event_count,"
    " last_seen = CASE WHEN issue_release.last_seen < excluded.last_seen"
    " THEN excluded.last_seen ELSE issue_release.last_seen END"
)
#: The whole batch in one statement, on a connection in autocommit mode its own transaction.
#: The open issues are locked first (``MATERIALIZED``: the query runs once, on its own, not
#: merged into the join, and locks them in id order, as every PostgreSQL writer here does, so
#: two never deadlock); the events are inserted in their order of arrival, with their issue's
#: id if it is open; the inserted ones are counted in their issues.
_POSTGRESQL_STORE = f"""
WITH open_issue AS MATERIALIZED (
    SELECT group_hash.project_id, group_hash.fingerprint, issue.id
    FROM group_hash JOIN issue ON issue.id = group_hash.issue_id
    WHERE group_hash.project_id = ANY(%(wanted_projects)b::integer[])
    AND group_hash.fingerprint = ANY(%(wanted_fingerprints)b::varchar[])
    AND issue.status IN ({_OPEN})
    AND issue.merged_into_id IS NULL
    ORDER BY issue.id FOR UPDATE OF issue
), inserted AS (
    INSERT INTO event
        (project_id, event_id, received_at, payload, digested, issue_id, release, environment)
    SELECT incoming.project_id, incoming.event_id, %(seen)b, incoming.payload,
        open_issue.id IS NOT NULL, open_issue.id, incoming.release, incoming.environment
    FROM unnest(%(projects)b::integer[], %(event_ids)b::varchar[], %(payloads)b::bytea[],
        %(fingerprints)b::varchar[], %(releases)b::varchar[], %(environments)b::varchar[])
        WITH ORDINALITY
        AS incoming (project_id, event_id, payload, fingerprint, release, environment, arrival)
    LEFT JOIN open_issue ON open_issue.project_id = incoming.project_id
        AND open_issue.fingerprint = incoming.fingerprint
    ORDER BY incoming.arrival
    ON CONFLICT (project_id, event_id) DO NOTHING
    RETURNING issue_id, release, environment
), counted_issues AS (
    UPDATE issue SET event_count = issue.event_count + counted.events,
        last_seen = greatest(issue.last_seen, %(seen)b)
    FROM (SELECT issue_id, count(*) AS events FROM inserted WHERE issue_id IS NOT NULL
          GROUP BY issue_id) AS counted
    WHERE issue.id = counted.issue_id
), counted_releases AS (
    INSERT INTO issue_release (issue_id, release, environment, event_count, first_seen, last_seen)
    SELECT issue_id, coalesce(release, ''), coalesce(environment, ''), count(*), %(seen)b,
        %(seen)b
    FROM inserted WHERE issue_id IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (issue_id, release, environment) DO UPDATE SET
        event_count = issue_release.event_count + excluded.event_count,
        last_seen = greatest(issue_release.last_seen, excluded.last_seen)
)
SELECT count(*), count(issue_id) FROM inserted
"""


@dataclass(frozen=True)
class StoredEvents:
    inserted: int
    filed: int

    @property
    def for_the_digest(self) -> int:
        return self.inserted - self.filed


class EventWriter:
    """The intake's own connection, kept across batches: ``store`` stores a batch and commits
    it before it returns.

    It runs the transaction on the driver's connection, as the statements already are (see
    the module's docstring): SQLAlchemy's transaction around them (its ``begin`` event, which
    issues SQLite's ``BEGIN IMMEDIATE``, and its commit bookkeeping) cost about 50 µs of CPU a
    commit, a tenth of what a request with one event costs in all. On PostgreSQL the
    connection is in autocommit mode, where the store is one statement and so its own
    transaction. Other databases go through ``store_events`` in a SQLAlchemy transaction.
    After an error the writer is spent: ``discard`` it and make another (the database may
    have restarted under the old connection).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.engine.dialect.name
        self._pooled: Any = None
        if self.dialect in ("sqlite", "postgresql"):
            # The pool's connection, so the engine's ``connect`` events (SQLite's pragmas)
            # have run on it.
            self._pooled = db.writer.raw_connection()
            if self.dialect == "postgresql":
                self._pooled.driver_connection.autocommit = True

    def store(
        self, events: Sequence[tuple[int, IncomingEvent]], received: dt.datetime
    ) -> StoredEvents:
        """``store_events``, committed."""
        if self._pooled is None:
            with self.db.writing() as connection:
                return store_events(connection, events, received)
        with self.db.write_lock:
            cursor = self._pooled.driver_connection.cursor()
            try:
                if self.dialect == "postgresql":
                    return _store_on_postgresql(cursor, events, received)
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    stored = _store_on_sqlite(cursor, events, received)
                    cursor.execute("COMMIT")
                except BaseException:
                    if self._pooled.driver_connection.in_transaction:
                        cursor.execute("ROLLBACK")
                    raise
                return stored
            finally:
                cursor.close()

    def close(self) -> None:
        """Give the connection back to the pool, as it was lent."""
        if self._pooled is not None:
            if self.dialect == "postgresql":
                self._pooled.driver_connection.autocommit = False
            self._pooled.close()
            self._pooled = None

    def discard(self) -> None:
        """After an error: close the connection for good instead of giving it back."""
        if self._pooled is not None:
            self._pooled.invalidate()
            self._pooled = None


def store_events(
    connection: Connection,
    events: Sequence[tuple[int, IncomingEvent]],
    received: dt.datetime,
) -> StoredEvents:
    """Insert ``(project_id, event)`` pairs, filing those of open issues; in the caller's
    transaction, which must commit before any of them is acknowledged (``EventWriter`` does
    both)."""
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        connection.execute(insert(Event), [_row(p, e, received) for p, e in events])
        return StoredEvents(inserted=len(events), filed=0)
    cursor = connection.connection.cursor()
    try:
        if dialect == "sqlite":
            return _store_on_sqlite(cursor, events, received)
        return _store_on_postgresql(cursor, events, received)
    finally:
        cursor.close()


def _row(project_id: int, event: IncomingEvent, received: dt.datetime) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "event_id": event.event_id,
        "received_at": received,
        "payload": event.payload,
        "digested": False,
        "release": event.release,
        "environment": event.environment,
    }


def _wanted(events: Sequence[tuple[int, IncomingEvent]]) -> set[tuple[int, str]]:
    return {(project_id, e.fingerprint) for project_id, e in events if e.fingerprint}


def _store_on_sqlite(
    cursor: Any, events: Sequence[tuple[int, IncomingEvent]], received: dt.datetime
) -> StoredEvents:
    issues: dict[tuple[int, str], int] = {}
    if wanted := _wanted(events):
        projects = sorted({project_id for project_id, _ in wanted})
        fingerprints = sorted({fingerprint for _, fingerprint in wanted})
        query = _SQLITE_OPEN_ISSUES.format(
            projects=_marks(len(projects)), fingerprints=_marks(len(fingerprints))
        )
        cursor.execute(query, [*projects, *fingerprints])
        issues = {(p, f): i for p, f, i in cursor.fetchall() if (p, f) in wanted}
    # As SQLAlchemy stores them on SQLite: text, always with microseconds; booleans as 0 and 1.
    seen = received.isoformat(" ", "microseconds")
    values: list[Any] = []
    for project_id, event in events:
        issue_id = issues.get((project_id, event.fingerprint or ""))
        values += (
            project_id,
            event.event_id,
            seen,
            event.payload,
            int(issue_id is not None),
            issue_id,
            event.release,
            event.environment,
        )
    rows = ", ".join([f"({_marks(8)})"] * len(events))
    cursor.execute(_SQLITE_INSERT_EVENTS.format(rows=rows), values)
    inserted = cursor.fetchall()
    filed = [row for row in inserted if row[0] is not None]
    if filed:
        per_issue = Counter(issue_id for issue_id, _, _ in filed)
        cursor.executemany(
            _SQLITE_COUNT_ISSUE,
            [(n, seen, seen, issue_id) for issue_id, n in sorted(per_issue.items())],
        )
        per_release = Counter((issue, release or "", env or "") for issue, release, env in filed)
        cursor.executemany(
            _SQLITE_COUNT_RELEASE,
            [(*key, n, seen, seen) for key, n in sorted(per_release.items())],
        )
    return StoredEvents(inserted=len(inserted), filed=len(filed))


def _store_on_postgresql(
    cursor: Any, events: Sequence[tuple[int, IncomingEvent]], received: dt.datetime
) -> StoredEvents:
    wanted = _wanted(events)
    cursor.execute(
        _POSTGRESQL_STORE,
        {
            "seen": received,
            "wanted_projects": sorted({project_id for project_id, _ in wanted}),
            "wanted_fingerprints": sorted({fingerprint for _, fingerprint in wanted}),
            "projects": [project_id for project_id, _ in events],
            "event_ids": [event.event_id for _, event in events],
            "payloads": [event.payload for _, event in events],
            "fingerprints": [event.fingerprint for _, event in events],
            "releases": [event.release for _, event in events],
            "environments": [event.environment for _, event in events],
        },
    )
    inserted, filed = cursor.fetchone()
    return StoredEvents(inserted=inserted, filed=filed)


def _marks(count: int) -> str:
    return ", ".join(["?"] * count)
