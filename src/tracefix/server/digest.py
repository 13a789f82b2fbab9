"""The digest: group stored events into issues, after they were acknowledged.

Takes undigested events in id order, a batch per transaction: fingerprints them (``grouping``),
finds each fingerprint's issue through ``GroupHash`` (so merges stick) or creates one, updates
counts, first and last seen, releases and environments, and reopens a resolved issue as
``regressed``. Returns the issues that are new or regressed: those get a fix attempt. Events of
open issues mostly never come here: the intake files them as it stores them
(``ingest.filing``); what comes is a new fingerprint, a resolved issue's event, and whatever
was stored before.

The batch is read and fingerprinted (JSON parsing, the costly part) before the write
transaction, so that the intake's commits do not wait behind it; the transaction then takes the
events still undigested. Safe to run in several processes at once, and next to the intake: on
PostgreSQL the events are taken with ``FOR UPDATE SKIP LOCKED``, and the issues to count in are
locked in id order, as the intake locks them, before their counts are read, so that neither
overwrites the other's counts nor deadlocks with it; on SQLite the write transaction holds the
database's write lock.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracefix.server.db import Database
from tracefix.server.grouping import Grouping
from tracefix.server.grouping import group
from tracefix.server.ingest.protocol import load_json
from tracefix.server.models import Event
from tracefix.server.models import GroupHash
from tracefix.server.models import Issue
from tracefix.server.models import IssueRelease

logger = logging.getLogger("tracefix.server")

BATCH = 1000


@dataclass
class DigestResult:
    events: int = 0
    new_issues: list[int] = field(default_factory=list)
    regressed_issues: list[int] = field(default_factory=list)

    @property
    def to_fix(self) -> list[int]:
        return self.new_issues + self.regressed_issues


def digest_pending(db: Database, batch: int = BATCH) -> DigestResult:
    """Digest every event waiting; the issues that are new or regressed."""
    total = DigestResult()
    while True:
        with db.session() as session:
            rows = session.execute(_undigested(batch)).all()
        if not rows:
            return total
        groupings = {row.id: group(_json(row.payload)) for row in rows}
        for attempt in range(5):
            try:
                with db.write_session() as session:
                    result = digest_rows(session, rows, groupings)
                break
            except IntegrityError:
                # Another digester created the same fingerprint's issue first: take its issue.
                logger.debug("tracefix: digest raced on a new issue; again", exc_info=True)
                if attempt == 4:
                    raise
        total.events += result.events
        total.new_issues += result.new_issues
        total.regressed_issues += result.regressed_issues
        if len(rows) < batch or result.events == 0:
            # Fewer than a batch: that was all. None taken: another digester holds them.
            return total


def _undigested(batch: int) -> Any:
    return (
        select(
            Event.id,
            Event.project_id,
            Event.payload,
            Event.received_at,
            Event.release,
            Event.environment,
        )
        .where(Event.digested.is_(False))
        .order_by(Event.id)
        .limit(batch)
    )


def digest_rows(
    session: Session, rows: Sequence[Any], groupings: dict[int, Grouping]
) -> DigestResult:
    """File ``rows`` (read before this transaction, ``groupings`` by event id) in their issues,
    those of them still undigested."""
    taken = select(Event.id).where(
        Event.id.in_([row.id for row in rows]), Event.digested.is_(False)
    )
    if session.get_bind().dialect.name == "postgresql":
        taken = taken.with_for_update(skip_locked=True)
    still = set(session.scalars(taken))
    rows = [row for row in rows if row.id in still]
    result = DigestResult(events=len(rows))
    if not rows:
        return result
    issue_of = _existing_issues(
        session, {(r.project_id, groupings[r.id].fingerprint) for r in rows}
    )
    assigned: dict[int, list[int]] = defaultdict(list)
    releases: dict[tuple[int, str, str], list[Any]] = {}
    for row in rows:
        grouping = groupings[row.id]
        issue = issue_of.get((row.project_id, grouping.fingerprint))
        if issue is None:
            issue = _new_issue(session, row.project_id, grouping, row.received_at, result)
            issue_of[(row.project_id, grouping.fingerprint)] = issue
        _count(issue, row.received_at, result)
        assigned[issue.id].append(row.id)
        key = (issue.id, row.release or "", row.environment or "")
        seen = releases.setdefault(key, [0, row.received_at, row.received_at])
        seen[0] += 1
        seen[2] = row.received_at
    for issue_id, event_ids in assigned.items():
        session.execute(
            update(Event).where(Event.id.in_(event_ids)).values(issue_id=issue_id, digested=True)
        )
    for (issue_id, release, environment), (count, first, last) in sorted(releases.items()):
        _count_release(session, issue_id, release, environment, count, first, last)
    return result


def _json(payload: bytes) -> dict[str, Any]:
    try:
        value = load_json(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _existing_issues(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Issue]:
    """The issue of each ``(project_id, fingerprint)`` that has one, locked (in id order) for
    the rest of the transaction on PostgreSQL."""
    hashes = session.execute(
        select(GroupHash.project_id, GroupHash.fingerprint, GroupHash.issue_id).where(
            GroupHash.project_id.in_({project_id for project_id, _ in keys}),
            GroupHash.fingerprint.in_({fingerprint for _, fingerprint in keys}),
        )
    ).all()
    wanted = {row.issue_id for row in hashes if (row.project_id, row.fingerprint) in keys}
    locked = select(Issue).where(Issue.id.in_(wanted)).order_by(Issue.id).with_for_update()
    issues = {
        issue.id: issue
        for issue in session.scalars(locked.execution_options(populate_existing=True))
    }
    return {
        (row.project_id, row.fingerprint): issues[row.issue_id]
        for row in hashes
        if (row.project_id, row.fingerprint) in keys and row.issue_id in issues
    }


def _new_issue(
    session: Session, project_id: int, grouping: Grouping, seen: Any, result: DigestResult
) -> Issue:
    issue = Issue(
        project_id=project_id,
        title=grouping.title,
        exception_type=grouping.exception_type,
        culprit=grouping.culprit,
        status="unresolved",
        event_count=0,
        first_seen=seen,
        last_seen=seen,
    )
    session.add(issue)
    session.flush()
    session.add(
        GroupHash(project_id=project_id, fingerprint=grouping.fingerprint, issue_id=issue.id)
    )
    session.flush()
    result.new_issues.append(issue.id)
    return issue


def _count(issue: Issue, seen: Any, result: DigestResult) -> None:
    issue.event_count += 1
    issue.last_seen = max(issue.last_seen, seen)
    if issue.status == "resolved" and (issue.resolved_at is None or seen > issue.resolved_at):
        issue.status = "regressed"
        if issue.id not in result.new_issues and issue.id not in result.regressed_issues:
            result.regressed_issues.append(issue.id)


def _count_release(
    session: Session,
    issue_id: int,
    release: str,
    environment: str,
    count: int,
    first: Any,
    last: Any,
) -> None:
    row = session.get(IssueRelease, (issue_id, release, environment))
    if row is None:
        session.add(
            IssueRelease(
                issue_id=issue_id,
                release=release,
                environment=environment,
                event_count=count,
                first_seen=first,
                last_seen=last,
            )
        )
    else:
        row.event_count += count
        row.last_seen = max(row.last_seen, last)


def merge_issues(session: Session, into_id: int, other_ids: list[int]) -> Issue:
    """Merge ``other_ids`` into ``into_id``: their fingerprints, events, counts and releases
    move over, so later events of any of them land in the merged issue. The issues are
    locked first, in id order, as the intake and the digest lock them (their counts are added
    up here)."""
    locked = (
        select(Issue)
        .where(Issue.id.in_([into_id, *other_ids]))
        .order_by(Issue.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    issues = {issue.id: issue for issue in session.scalars(locked)}
    into = issues.get(into_id)
    if into is None:
        raise LookupError(f"no issue {into_id}")
    for other_id in other_ids:
        other = issues.get(other_id)
        if other is None or other.id == into.id or other.project_id != into.project_id:
            continue
        session.execute(
            update(GroupHash).where(GroupHash.issue_id == other.id).values(issue_id=into.id)
        )
        session.execute(update(Event).where(Event.issue_id == other.id).values(issue_id=into.id))
        for row in session.scalars(select(IssueRelease).where(IssueRelease.issue_id == other.id)):
            _count_release(
                session,
                into.id,
                row.release,
                row.environment,
                row.event_count,
                row.first_seen,
                row.last_seen,
            )
            session.delete(row)
        into.event_count += other.event_count
        into.first_seen = min(into.first_seen, other.first_seen)
        into.last_seen = max(into.last_seen, other.last_seen)
        other.merged_into_id = into.id
        other.event_count = 0
        other.status = "merged"
    return into
