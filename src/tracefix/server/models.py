"""The server's tables, as SQLAlchemy 2 declarative models.

Data flows one way: an ``Event`` row is written by the intake (raw, ``issue_id`` empty) and
acknowledged; the digest fills in its fingerprint and issue; a new or regressed ``Issue`` gets a
``Fix`` attempt. Schema changes go through Alembic (``server/migrations``), never
``create_all``: a server upgraded in place keeps its data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column


def utcnow() -> dt.datetime:
    """Naive UTC: what every timestamp column holds, on SQLite and PostgreSQL alike."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Project(Base):
    """A monitored application and the repository its fixes go to.

    ``settings`` holds what the fix pipeline needs to know of the project: ``python`` (an
    interpreter to verify with), ``test_command``, ``run_tests``, ``remote`` (where to push),
    ``forge`` (``github``/``gitlab``/``gitea``), ``forge_url``, ``forge_api_url``, ``token_env``
    (the server's environment variable holding the forge token); ``projects.checked_settings``
    says which values are valid.
    """

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    repo: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    events_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )


class ApiToken(Base):
    """A bearer token for automation; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Event(Base):
    """One received event: its JSON as received (decompressed), and once digested, its issue.

    Written and committed before the ingest request is answered, so an acknowledged event is
    on disk even if the server dies right after; ``(project_id, event_id)`` is unique, so an
    SDK that retries after a lost answer does not count twice.
    """

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        # Only the undigested events, in the words of the digest's queries (migration 0004).
        Index(
            "ix_event_undigested",
            "id",
            sqlite_where=text("digested IS 0"),
            postgresql_where=text("digested IS false"),
        ),
        Index("ix_event_issue_received", "issue_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    digested: Mapped[bool] = mapped_column(Boolean, default=False)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id", ondelete="SET NULL"))
    release: Mapped[str | None] = mapped_column(String(250))
    environment: Mapped[str | None] = mapped_column(String(64))


class Issue(Base):
    """Events of one cause: one fingerprint, or several merged into one.

    States: ``unresolved``, ``resolved`` (by hand, or ``fixed`` when the merged fix is seen to
    work), ``ignored``, ``regressed`` (an event after it was resolved). ``merged_into_id`` set:
    this issue was merged away (its status is then ``merged``); its fingerprints now point at
    the other one.
    """

    __tablename__ = "issue"
    __table_args__ = (Index("ix_issue_project_last_seen", "project_id", "last_seen"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    exception_type: Mapped[str] = mapped_column(String(200), default="")
    culprit: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="unresolved")
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"))


class GroupHash(Base):
    """Which issue a fingerprint's events go to; merging re-points these, so it sticks."""

    __tablename__ = "group_hash"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"), index=True)


class IssueRelease(Base):
    """Counts of an issue's events per release and environment."""

    __tablename__ = "issue_release"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True
    )
    release: Mapped[str] = mapped_column(String(250), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Fix(Base):
    """One attempt to fix an issue at one release: unique, so a re-run job finds it and does
    not open a second pull request.

    ``state`` goes ``queued`` → ``running`` → one of ``not_reproduced`` (the entry recorded in
    the event did not fail again in the checkout), ``no_fix`` (unknown cause or no safe fix),
    ``unverified`` (a candidate that failed verification: shown, never delivered), ``failed``
    (the pipeline itself failed; ``error`` says why), ``verified`` (verified, not delivered:
    no remote configured), ``delivered`` (branch pushed, pull request opened); later ``fixed``
    (events stopped in releases containing the merged fix) or ``fix_failed`` (they did not).
    """

    __tablename__ = "fix"
    __table_args__ = (UniqueConstraint("issue_id", "release"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    release: Mapped[str] = mapped_column(String(250), default="")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    code: Mapped[str | None] = mapped_column(String(16))
    #: The command that reproduced the failure, as run in the checkout.
    command: Mapped[list[Any] | None] = mapped_column(JSON)
    diagnosis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: ``tracefix run --json``'s document of the attempt: fix, verification, timings, error.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    diff: Mapped[str | None] = mapped_column(Text)
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    branch: Mapped[str | None] = mapped_column(String(250))
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    pr_url: Mapped[str | None] = mapped_column(Text)
    pr_number: Mapped[int | None] = mapped_column(Integer)
    #: The pull request's state on the forge: ``open``, ``closed`` or ``merged``.
    pr_state: Mapped[str | None] = mapped_column(String(16))
    checks: Mapped[list[Any] | None] = mapped_column(JSON)
    checks_state: Mapped[str | None] = mapped_column(String(16))
    merged_sha: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
