"""Release-aware closing: did the delivered fix work, once it shipped?

By commit ancestry, not by time: a release *contains* the fix when the fix's commit is an
ancestor of the release's commit. Once the project sends events from a release that contains
the fix (the fixed code is live) and, for ``quiet`` seconds after, none of this issue's events
come from such a release, the fix is ``fixed`` and the issue resolved. An event of the issue
from a release that contains the fix means the fix did not work: ``fix_failed``, the issue
reopened as ``regressed``. Releases that do not contain the fix say nothing either way.

The fix's commit is the forge's merge commit once the pull request is merged (``merged_sha``,
recorded by ``delivery.follow_pull_requests``), so a squash or rebase merge counts too; before
that, the branch's own commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from tracefix.errors import TracefixError
from tracefix.git import git
from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.models import Event
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.models import Project
from tracefix.server.models import utcnow
from tracefix.verify.checkout import RepositoryCache

logger = logging.getLogger("tracefix.server")

#: Seconds a shipped fix must stay quiet before its issue is called fixed.
DEFAULT_QUIET = 3600.0


@dataclass(frozen=True)
class SeenRelease:
    """A release the project sent events from, after the fix was delivered."""

    release: str
    first_seen: dt.datetime
    of_this_issue: bool


def verdict(
    seen: Iterable[SeenRelease],
    contains_fix: Callable[[str], bool | None],
    now: dt.datetime,
    quiet: float,
) -> str | None:
    """``fixed``, ``fix_failed``, or None while it cannot be told; pure.

    ``contains_fix(release)`` is None when the release names no commit of the repository."""
    shipped_at: dt.datetime | None = None
    for item in sorted(seen, key=lambda s: s.first_seen):
        if not contains_fix(item.release):
            continue
        if item.of_this_issue:
            return "fix_failed"
        shipped_at = shipped_at or item.first_seen
    if shipped_at is not None and (now - shipped_at).total_seconds() >= quiet:
        return "fixed"
    return None


def review_delivered_fixes(
    config: ServerConfig,
    db: Database,
    *,
    quiet: float = DEFAULT_QUIET,
    now: dt.datetime | None = None,
) -> dict[int, str]:
    """Close or reopen what the releases seen since each delivery say; ``{fix id: verdict}``."""
    now = now or utcnow()
    cache = RepositoryCache(config.repo_cache)
    with db.session() as session:
        fixes = list(session.scalars(select(Fix).where(Fix.state == "delivered")))
        projects = {p.id: p for p in session.scalars(select(Project))}
        issues = {
            i.id: i
            for i in session.scalars(select(Issue).where(Issue.id.in_([f.issue_id for f in fixes])))
        }
    decided: dict[int, str] = {}
    for fix in fixes:
        issue = issues.get(fix.issue_id)
        project = projects.get(issue.project_id) if issue else None
        commit = fix.merged_sha or fix.commit_sha
        if issue is None or project is None or not project.repo or not commit:
            continue
        contains_fix = _FixInRelease(cache, project.repo, commit)
        result = verdict(
            _seen_since(db, project.id, issue.id, fix.updated_at), contains_fix, now, quiet
        )
        if result is None:
            continue
        with db.write_session() as session:
            stored = session.get(Fix, fix.id)
            reviewed = session.get(Issue, issue.id)
            if stored is None or reviewed is None or stored.state != "delivered":
                continue
            stored.state = result
            if result == "fixed":
                reviewed.status, reviewed.resolved_at = "resolved", now
            else:
                reviewed.status = "regressed"
        decided[fix.id] = result
        logger.info("tracefix: fix %d of issue %d: %s", fix.id, issue.id, result)
    return decided


class _FixInRelease:
    """Whether a release contains the fix's commit, answered once per release."""

    def __init__(self, cache: RepositoryCache, repo: str, commit: str) -> None:
        self.cache, self.repo, self.commit = cache, repo, commit
        self._answers: dict[str, bool | None] = {}

    def __call__(self, release: str) -> bool | None:
        if release not in self._answers:
            try:
                with self.cache.checkout(self.repo, release) as checkout:
                    self._answers[release] = is_ancestor(
                        checkout.path, self.commit, checkout.commit
                    )
            except TracefixError:  # the release names no commit of the repository
                self._answers[release] = None
        return self._answers[release]


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    return git("merge-base", "--is-ancestor", commit, of, cwd=repo, check=False).returncode == 0


def _seen_since(
    db: Database, project_id: int, issue_id: int, since: dt.datetime
) -> list[SeenRelease]:
    with db.session() as session:
        rows = session.execute(
            select(Event.release, Event.issue_id, Event.received_at)
            .where(
                Event.project_id == project_id,
                Event.received_at >= since,
                Event.release.is_not(None),
            )
            .order_by(Event.received_at)
        ).all()
    first: dict[tuple[str, bool], dt.datetime] = {}
    for release, event_issue, received in rows:
        first.setdefault((str(release), event_issue == issue_id), received)
    return [SeenRelease(release, when, mine) for (release, mine), when in first.items()]
