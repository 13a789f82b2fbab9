"""The dashboard (server-rendered pages) and the JSON API for automation (``/api/0/``).

Both read the same queries: a project's issues filtered and paged, an issue with its latest
event, releases and fix attempts, a fix. Every page needs a signed-in user, every API call a
bearer token; either sees only the projects it is a member of (an admin sees all), and any
other project's issue or fix is a 404, as if it did not exist.

Event payloads come from the monitored apps and whoever can reach the ingest endpoint, so
nothing in them is trusted: each field is type-checked as it is read (``EventView``) and
rendered through Jinja's autoescaping, never marked safe.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import flash
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required  # type: ignore[import-untyped]
from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from tracefix.server import people
from tracefix.server.digest import merge_issues
from tracefix.server.grouping import exception_values
from tracefix.server.grouping import frames_of
from tracefix.server.models import ApiToken
from tracefix.server.models import Event
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.models import IssueRelease
from tracefix.server.models import Project
from tracefix.server.models import User
from tracefix.server.models import utcnow
from tracefix.server.web.auth import add_security_headers
from tracefix.server.web.auth import signed_in_user
from tracefix.server.web.state import server_state

dashboard = Blueprint("dashboard", __name__)
api = Blueprint("api", __name__, url_prefix="/api/0")
dashboard.after_request(add_security_headers)
api.after_request(add_security_headers)

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
#: The states an issue can be listed by; ``open`` is unresolved or regressed.
STATUSES = ("unresolved", "regressed", "resolved", "ignored")
STATUS_FILTERS = ("open", *STATUSES, "all")
#: The states a person sets; ``regressed`` is the digest's to set.
SETTABLE_STATUSES = ("unresolved", "resolved", "ignored")
SORTS = {
    "last_seen": Issue.last_seen,
    "first_seen": Issue.first_seen,
    "events": Issue.event_count,
}
#: How many ``merged_into`` links are followed to find where a merged issue went.
MAX_MERGE_HOPS = 10
MERGE_CANDIDATES = 50

FIX_STATES = {
    "queued": "waiting for the fix job",
    "running": "the fix job is running",
    "no_fix": "no known cause, or no safe fix for this code",
    "unverified": "a candidate fix that failed verification: never delivered",
    "failed": "the fix job itself failed",
    "verified": "verified; not delivered (no remote configured)",
    "delivered": "verified, branch pushed and pull request opened",
    "fixed": "the fix was merged and the events stopped",
    "fix_failed": "the fix was merged but the events went on",
}


# Issue lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFilters:
    """A list's filters, sort and page, read from query arguments: a bad value is the default."""

    status: str = "open"
    environment: str = ""
    release: str = ""
    sort: str = "last_seen"
    query: str = ""
    page: int = 1
    per_page: int = PAGE_SIZE

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, per_page: int = PAGE_SIZE) -> IssueFilters:
        status = args.get("status", "open")
        sort = args.get("sort", "last_seen")
        return cls(
            status=status if status in STATUS_FILTERS else "open",
            environment=args.get("environment", "").strip(),
            release=args.get("release", "").strip(),
            sort=sort if sort in SORTS else "last_seen",
            query=args.get("query", "").strip(),
            page=_positive_int(args.get("page"), 1),
            per_page=min(_positive_int(args.get("per_page"), per_page), MAX_PAGE_SIZE),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query arguments of this list with ``changes``, defaults left out (for links)."""
        changed = replace(self, **changes)
        default = IssueFilters(per_page=changed.per_page)
        return {
            name: getattr(changed, name)
            for name in ("status", "environment", "release", "sort", "query", "page")
            if getattr(changed, name) != getattr(default, name)
        }


@dataclass(frozen=True)
class IssuePage:
    issues: list[Issue]
    total: int
    page: int
    pages: int


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def issue_query(project_id: int, filters: IssueFilters) -> Select[Any]:
    """The project's issues matching ``filters`` (merged-away issues never), unsorted."""
    query = select(Issue).where(Issue.project_id == project_id, Issue.merged_into_id.is_(None))
    if filters.status == "open":
        query = query.where(Issue.status.in_(("unresolved", "regressed")))
    elif filters.status in STATUSES:
        query = query.where(Issue.status == filters.status)
    else:
        query = query.where(Issue.status != "merged")
    if filters.environment or filters.release:
        seen_in: list[ColumnElement[bool]] = [IssueRelease.issue_id == Issue.id]
        if filters.environment:
            seen_in.append(IssueRelease.environment == filters.environment)
        if filters.release:
            seen_in.append(IssueRelease.release == filters.release)
        query = query.where(exists(select(IssueRelease.issue_id).where(*seen_in)))
    if filters.query:
        query = query.where(
            or_(
                Issue.title.icontains(filters.query, autoescape=True),
                Issue.culprit.icontains(filters.query, autoescape=True),
            )
        )
    return query


def list_issues(session: Session, project_id: int, filters: IssueFilters) -> IssuePage:
    query = issue_query(project_id, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / filters.per_page))
    page = min(filters.page, pages)
    issues: Sequence[Issue] = session.scalars(
        query.order_by(SORTS[filters.sort].desc(), Issue.id.desc())
        .offset((page - 1) * filters.per_page)
        .limit(filters.per_page)
    ).all()
    return IssuePage(list(issues), total, page, pages)


def seen_in(session: Session, project_id: int) -> tuple[list[str], list[str]]:
    """The environments and releases the project's issues were seen in: the filters' choices."""
    where = (
        IssueRelease.issue_id == Issue.id,
        Issue.project_id == project_id,
    )
    environments = session.scalars(
        select(IssueRelease.environment)
        .distinct()
        .where(*where, IssueRelease.environment != "")
        .order_by(IssueRelease.environment)
    ).all()
    releases = session.scalars(
        select(IssueRelease.release)
        .distinct()
        .where(*where, IssueRelease.release != "")
        .order_by(IssueRelease.release.desc())
        .limit(200)
    ).all()
    return list(environments), list(releases)


def open_issue_counts(session: Session, project_ids: Iterable[int]) -> dict[int, int]:
    rows = session.execute(
        select(Issue.project_id, func.count())
        .where(
            Issue.project_id.in_(list(project_ids)),
            Issue.status.in_(("unresolved", "regressed")),
            Issue.merged_into_id.is_(None),
        )
        .group_by(Issue.project_id)
    ).all()
    return {project_id: count for project_id, count in rows}


# Access ----------------------------------------------------------------------------------------


def visible_project(session: Session, user: User, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None or not people.can_see_project(session, user, project.id):
        abort(404)
    return project


def visible_issue(session: Session, user: User, issue_id: int) -> Issue:
    issue = session.get(Issue, issue_id)
    if issue is None or not people.can_see_project(session, user, issue.project_id):
        abort(404)
    return issue


def visible_fix(session: Session, user: User, fix_id: int) -> tuple[Fix, Issue]:
    fix = session.get(Fix, fix_id)
    if fix is None:
        abort(404)
    return fix, visible_issue(session, user, fix.issue_id)


def merged_destination(session: Session, issue: Issue) -> Issue:
    """Where a merged-away issue's events went: the end of its ``merged_into`` links."""
    for _ in range(MAX_MERGE_HOPS):
        if issue.merged_into_id is None:
            break
        into = session.get(Issue, issue.merged_into_id)
        if into is None:
            break
        issue = into
    return issue


def fixes_of(session: Session, issue: Issue) -> list[Fix]:
    """The issue's fix attempts, with those of the issues merged into it."""
    merged = select(Issue.id).where(Issue.merged_into_id == issue.id)
    return list(
        session.scalars(
            select(Fix)
            .where(or_(Fix.issue_id == issue.id, Fix.issue_id.in_(merged)))
            .order_by(Fix.created_at.desc(), Fix.id.desc())
        )
    )


def releases_of(session: Session, issue_id: int) -> list[IssueRelease]:
    return list(
        session.scalars(
            select(IssueRelease)
            .where(IssueRelease.issue_id == issue_id)
            .order_by(IssueRelease.last_seen.desc())
        )
    )


def set_status(issue: Issue, status: str) -> None:
    if status not in SETTABLE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(SETTABLE_STATUSES)}")
    issue.status = status
    # The digest reopens a resolved issue on an event received after this moment.
    issue.resolved_at = utcnow() if status == "resolved" else None


# Events, read defensively ----------------------------------------------------------------------

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SourceLine:
    number: int | None
    text: str
    current: bool


@dataclass(frozen=True)
class FrameView:
    filename: str
    function: str
    lineno: int | None
    module: str | None
    in_app: bool
    source: tuple[SourceLine, ...]
    variables: Pairs


@dataclass(frozen=True)
class ExceptionView:
    type: str
    value: str
    module: str | None
    mechanism: str | None
    handled: bool | None
    frames: tuple[FrameView, ...]


@dataclass(frozen=True)
class EventView:
    """What the issue page shows of one event: every field checked and turned into text."""

    id: int
    event_id: str
    received_at: dt.datetime
    release: str | None
    environment: str | None
    #: The raised exception first, then what it was raised from (as Sentry shows them).
    exceptions: tuple[ExceptionView, ...]
    message: str
    flask: Pairs
    request: Pairs
    headers: Pairs
    tags: Pairs
    contexts: tuple[tuple[str, Pairs], ...]
    thread: str | None
    transaction: str | None
    sdk: str | None


_FLASK_ORDER = (
    "app_context",
    "request_context",
    "app",
    "apps",
    "endpoint",
    "blueprint",
    "method",
    "url",
    "url_rule",
    "view_args",
)


def event_view(event: Event) -> EventView:
    data = _decode(event.payload)
    contexts = _mapping(data.get("contexts"))
    flask = contexts.get("flask")
    request_data = _mapping(data.get("request"))
    return EventView(
        id=event.id,
        event_id=event.event_id,
        received_at=event.received_at,
        release=event.release,
        environment=event.environment,
        exceptions=tuple(_exception_view(v) for v in reversed(exception_values(data))),
        message=_message(data),
        flask=_ordered_pairs(flask, _FLASK_ORDER, skip={"type"}) if isinstance(flask, dict) else (),
        request=_ordered_pairs(
            request_data,
            ("method", "url", "query_string", "data", "cookies", "env"),
            skip={"headers"},
        ),
        headers=_pairs(request_data.get("headers")),
        tags=_pairs(data.get("tags")),
        contexts=tuple(
            (str(name), _ordered_pairs(value, (), skip={"type"}))
            for name, value in sorted(contexts.items(), key=lambda item: str(item[0]))
            if name != "flask" and isinstance(value, dict)
        ),
        thread=_crashed_thread(data.get("threads")),
        transaction=_optional_text(data.get("transaction")),
        sdk=_sdk(data.get("sdk")),
    )


def _decode(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _exception_view(value: dict[str, Any]) -> ExceptionView:
    mechanism = _mapping(value.get("mechanism"))
    handled = mechanism.get("handled")
    return ExceptionView(
        type=_text(value.get("type") or "Error"),
        value=_text(value.get("value") or ""),
        module=_optional_text(value.get("module")),
        mechanism=_optional_text(mechanism.get("type")),
        handled=handled if isinstance(handled, bool) else None,
        frames=tuple(_frame_view(frame) for frame in frames_of(value)),
    )


def _frame_view(frame: dict[str, Any]) -> FrameView:
    lineno = frame.get("lineno")
    lineno = lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None
    pre = _lines(frame.get("pre_context"))
    post = _lines(frame.get("post_context"))
    current = frame.get("context_line")
    source: list[SourceLine] = []
    if isinstance(current, str):
        start = None if lineno is None else lineno - len(pre)
        for offset, text in enumerate(pre):
            source.append(SourceLine(None if start is None else start + offset, text, False))
        source.append(SourceLine(lineno, current, True))
        for offset, text in enumerate(post, start=1):
            source.append(SourceLine(None if lineno is None else lineno + offset, text, False))
    variables = frame.get("vars")
    return FrameView(
        filename=_text(frame.get("filename") or frame.get("abs_path") or "<unknown>"),
        function=_text(frame.get("function") or "<unknown>"),
        lineno=lineno,
        module=_optional_text(frame.get("module")),
        in_app=frame.get("in_app") is True,
        source=tuple(source),
        variables=_pairs(variables) if isinstance(variables, dict) else (),
    )


def _lines(value: Any) -> list[str]:
    return [_text(line) for line in value] if isinstance(value, list) else []


def _message(data: dict[str, Any]) -> str:
    for key in ("logentry", "message"):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("formatted") or value.get("message")
        if isinstance(value, str) and value:
            return value
    return ""


def _crashed_thread(threads: Any) -> str | None:
    values = threads.get("values") if isinstance(threads, dict) else None
    for thread in values if isinstance(values, list) else ():
        if isinstance(thread, dict) and (thread.get("crashed") or thread.get("current")):
            return _optional_text(thread.get("name") or thread.get("id"))
    return None


def _sdk(sdk: Any) -> str | None:
    if not isinstance(sdk, dict) or not sdk.get("name"):
        return None
    return " ".join(_text(sdk[key]) for key in ("name", "version") if sdk.get(key))


def _pairs(value: Any) -> Pairs:
    """A mapping, or Sentry's list of ``[key, value]`` pairs, as text pairs."""
    if isinstance(value, dict):
        return tuple((_text(k), _text(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(
            (_text(item[0]), _text(item[1]))
            for item in value
            if isinstance(item, list | tuple) and len(item) == 2
        )
    return ()


def _ordered_pairs(value: dict[str, Any], first: Iterable[str], skip: set[str]) -> Pairs:
    """``value``'s items, the keys of ``first`` first, empty ones and ``skip`` left out."""
    keys = [key for key in first if key in value]
    keys += [key for key in value if key not in keys]
    return tuple(
        (_text(key), _text(value[key]))
        for key in keys
        if key not in skip and value[key] not in (None, "", [], {})
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure cannot come from JSON, but be sure
        return repr(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else _text(value)


def latest_event(session: Session, issue_id: int, event_id: int | None = None) -> Event | None:
    """The issue's event ``event_id``, or its latest."""
    query = select(Event).where(Event.issue_id == issue_id)
    if event_id is not None:
        query = query.where(Event.id == event_id)
    return session.scalar(query.order_by(Event.id.desc()).limit(1))


def neighbour_events(
    session: Session, issue_id: int, event_id: int
) -> tuple[int | None, int | None]:
    """The ids of the events just older and just newer than ``event_id`` in the issue."""
    older = session.scalar(
        select(func.max(Event.id)).where(Event.issue_id == issue_id, Event.id < event_id)
    )
    newer = session.scalar(
        select(func.min(Event.id)).where(Event.issue_id == issue_id, Event.id > event_id)
    )
    return older, newer


# The occurrences chart -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclass(frozen=True)
class Chart:
    """Bars of events per hour or per day, as SVG coordinates (drawn in the template)."""

    span: str
    unit: str
    bars: tuple[ChartBar, ...]
    total: int
    peak: int
    first_label: str
    last_label: str
    width: int = 720
    height: int = 120


#: span: (buckets, bucket length, SQLite strftime format, PostgreSQL to_char format, unit)
CHART_SPANS = {
    "24h": (24, dt.timedelta(hours=1), "%Y-%m-%d %H", "YYYY-MM-DD HH24", "hour"),
    "30d": (30, dt.timedelta(days=1), "%Y-%m-%d", "YYYY-MM-DD", "day"),
}


def default_span(issue: Issue, now: dt.datetime) -> str:
    return "24h" if now - issue.last_seen < dt.timedelta(hours=24) else "30d"


def occurrence_chart(session: Session, issue_id: int, span: str, now: dt.datetime) -> Chart:
    """Events of the issue per bucket over the span, counted by the database."""
    count, step, sqlite_format, postgres_format, unit = CHART_SPANS[span]
    if unit == "hour":
        last = now.replace(minute=0, second=0, microsecond=0)
    else:
        last = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [last - step * (count - 1 - i) for i in range(count)]
    dialect = session.get_bind().dialect.name
    bucket = (
        func.to_char(Event.received_at, postgres_format)
        if dialect == "postgresql"
        else func.strftime(sqlite_format, Event.received_at)
    )
    rows = session.execute(
        select(bucket, func.count())
        .where(Event.issue_id == issue_id, Event.received_at >= starts[0])
        .group_by(bucket)
    ).all()
    counted = {str(key): n for key, n in rows}
    counts = [counted.get(start.strftime(sqlite_format), 0) for start in starts]
    peak = max(counts)
    width, height = Chart.width, Chart.height
    slot = width / count
    bars = []
    for i, (start, n) in enumerate(zip(starts, counts, strict=True)):
        bar_height = 1.0 if not n else max(2.0, height * n / peak)  # an empty bar: a line
        label = start.strftime("%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d")
        bars.append(
            ChartBar(
                x=round(i * slot + 1, 2),
                y=round(height - bar_height, 2),
                width=round(slot - 2, 2),
                height=round(bar_height, 2),
                count=n,
                label=label,
            )
        )
    return Chart(
        span=span,
        unit=unit,
        bars=tuple(bars),
        total=sum(counts),
        peak=peak,
        first_label=bars[0].label,
        last_label=bars[-1].label,
    )


# Fixes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add, del, hunk, meta or context: the line's CSS class
    text: str


def diff_lines(diff: str) -> list[DiffLine]:
    lines = []
    in_header = True
    for text in diff.splitlines():
        if text.startswith("diff --git "):
            in_header = True
        if text.startswith("@@"):
            kind, in_header = "hunk", False
        elif in_header:
            kind = "meta"
        elif text.startswith("+"):
            kind = "add"
        elif text.startswith("-"):
            kind = "del"
        else:
            kind = "context"
        lines.append(DiffLine(kind, text))
    return lines


@dataclass(frozen=True)
class CheckView:
    name: str
    state: str
    detail: str
    url: str | None
    description: str


def check_views(checks: Any) -> list[CheckView]:
    views = []
    for check in checks if isinstance(checks, list) else ():
        if not isinstance(check, dict):
            views.append(CheckView(_text(check), "", "", None, ""))
            continue
        state = check.get("state") or check.get("conclusion") or check.get("status") or ""
        views.append(
            CheckView(
                name=_text(check.get("name") or check.get("context") or "check"),
                state=_text(state),
                detail=_text(check.get("detail") or ""),
                url=web_url(check.get("url") or check.get("html_url") or check.get("target_url")),
                description=_text(check.get("description") or ""),
            )
        )
    return views


def web_url(value: Any) -> str | None:
    """A link only when it is http(s): a ``javascript:`` URL in a check is not followed."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return None


def diagnosis_items(diagnosis: Any) -> Pairs:
    if not isinstance(diagnosis, dict):
        return ()
    return _ordered_pairs(
        diagnosis, ("name", "explanation", "location", "facts"), skip={"code", "summary"}
    )


# Pages -----------------------------------------------------------------------------------------


def init_dashboard(app: Flask) -> None:
    """The pages, the API (no CSRF: bearer tokens only), template filters and 404 pages."""
    app.register_blueprint(dashboard)
    app.register_blueprint(api)
    app.extensions["csrf"].exempt(api)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.add_template_filter(ago)
    app.add_template_filter(iso)
    app.register_error_handler(404, _not_found)


def _not_found(error: HTTPException) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        return jsonify(detail="not found"), 404
    return render_template("error.html", title="Not found", message="There is nothing here."), 404


def ago(moment: dt.datetime | None) -> str:
    """``3 minutes ago``: how long before now, in the largest whole unit."""
    if moment is None:
        return "never"
    seconds = (utcnow() - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            n = int(seconds // length)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def iso(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


@dashboard.get("/")
@login_required  # type: ignore[untyped-decorator]
def projects() -> ResponseReturnValue:
    user = signed_in_user()
    with server_state().db.session() as session:
        listed = people.visible_projects(session, user)
        counts = open_issue_counts(session, [p.id for p in listed])
    return render_template("projects.html", projects=listed, open_counts=counts)


@dashboard.get("/projects/<name>/issues")
@login_required  # type: ignore[untyped-decorator]
def issues(name: str) -> ResponseReturnValue:
    user = signed_in_user()
    filters = IssueFilters.from_args(request.args)
    with server_state().db.session() as session:
        project = visible_project(session, user, name)
        page = list_issues(session, project.id, filters)
        environments, releases = seen_in(session, project.id)
    return render_template(
        "issues.html",
        project=project,
        page=page,
        filters=filters,
        environments=environments,
        releases=releases,
        status_filters=STATUS_FILTERS,
        sorts=SORTS,
    )


@dashboard.get("/issues/<int:issue_id>")
@login_required  # type: ignore[untyped-decorator]
def issue(issue_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    now = utcnow()
    with server_state().db.session() as session:
        found = visible_issue(session, user, issue_id)
        if found.merged_into_id is not None:
            return redirect(url_for(".issue", issue_id=merged_destination(session, found).id))
        project = session.get(Project, found.project_id)
        chosen = _positive_int(request.args.get("event"), 0) or None
        event = latest_event(session, found.id, chosen)
        if event is None and chosen is not None:
            abort(404)
        older, newer = neighbour_events(session, found.id, event.id) if event else (None, None)
        span = request.args.get("chart", "")
        span = span if span in CHART_SPANS else default_span(found, now)
        candidates = session.scalars(
            select(Issue)
            .where(
                Issue.project_id == found.project_id,
                Issue.id != found.id,
                Issue.merged_into_id.is_(None),
            )
            .order_by(Issue.last_seen.desc())
            .limit(MERGE_CANDIDATES)
        ).all()
        return render_template(
            "issue.html",
            issue=found,
            project=project,
            event=event_view(event) if event else None,
            older=older,
            newer=newer,
            chart=occurrence_chart(session, found.id, span, now),
            spans=CHART_SPANS,
            releases=releases_of(session, found.id),
            fixes=fixes_of(session, found),
            fix_states=FIX_STATES,
            merge_candidates=candidates,
            settable=SETTABLE_STATUSES,
        )


@dashboard.post("/issues/<int:issue_id>/status")
@login_required  # type: ignore[untyped-decorator]
def issue_status(issue_id: int) -> ResponseReturnValue:
    status = request.form.get("status", "")
    with server_state().db.write_session() as session:
        found = visible_issue(session, signed_in_user(), issue_id)
        if found.merged_into_id is not None:
            abort(404)
        try:
            set_status(found, status)
        except ValueError as exc:
            abort(400, str(exc))
    flash(f"The issue is {status} now.", "info")
    return redirect(url_for(".issue", issue_id=issue_id))


@dashboard.post("/issues/<int:issue_id>/merge")
@login_required  # type: ignore[untyped-decorator]
def issue_merge(issue_id: int) -> ResponseReturnValue:
    """Merge another issue of the project into this one: its fingerprints come along, so its
    later events land here."""
    other_id = _positive_int(request.form.get("other"), 0)
    with server_state().db.write_session() as session:
        into = visible_issue(session, signed_in_user(), issue_id)
        other = session.get(Issue, other_id)
        if (
            into.merged_into_id is not None
            or other is None
            or other.id == into.id
            or other.project_id != into.project_id
            or other.merged_into_id is not None
        ):
            abort(400, "pick another issue of this project to merge")
        merge_issues(session, into.id, [other.id])
    flash(f"Issue #{other_id} was merged into this one.", "info")
    return redirect(url_for(".issue", issue_id=issue_id))


@dashboard.get("/fixes/<int:fix_id>")
@login_required  # type: ignore[untyped-decorator]
def fix(fix_id: int) -> ResponseReturnValue:
    from tracefix.server.fixing import TRIED_AGAIN_FROM  # the fix job's module: loaded late

    with server_state().db.session() as session:
        found, fixed_issue = visible_fix(session, signed_in_user(), fix_id)
        project = session.get(Project, fixed_issue.project_id)
    diagnosis = found.diagnosis if isinstance(found.diagnosis, dict) else {}
    return render_template(
        "fix.html",
        fix=found,
        tried_again=found.state in TRIED_AGAIN_FROM,
        issue=fixed_issue,
        project=project,
        state_meaning=FIX_STATES.get(found.state, ""),
        code=found.code or _optional_text(diagnosis.get("code")),
        summary=_optional_text(diagnosis.get("summary")),
        diagnosis=diagnosis_items(diagnosis),
        diff=diff_lines(found.diff or ""),
        checks=check_views(found.checks),
        pr_url=web_url(found.pr_url),
    )


@dashboard.post("/fixes/<int:fix_id>/again")
@login_required  # type: ignore[untyped-decorator]
def fix_again(fix_id: int) -> ResponseReturnValue:
    """Have the fix job try a finished, undelivered attempt again (``fixing.queue_again``)."""
    from tracefix.server.fixing import queue_again

    state = server_state()
    with state.db.write_session() as session:
        found, fixed_issue = visible_fix(session, signed_in_user(), fix_id)
        try:
            queue_again(session, found)
        except ValueError as exc:
            abort(409, str(exc))
        issue_id = fixed_issue.id
    state.jobs.fix(issue_id)
    flash("The fix job will try this attempt again.", "info")
    return redirect(url_for(".fix", fix_id=fix_id))


# The JSON API ----------------------------------------------------------------------------------


@api.before_request
def _authenticate_bearer() -> None:
    """Every API call carries ``Authorization: Bearer <token>``; the session cookie is not
    looked at, which is why the API needs no CSRF token."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, "an API token is needed: Authorization: Bearer <token>")
    db = server_state().db
    with db.session() as session:
        found = people.user_for_token(session, secret.strip())
    if found is None:
        abort(401, "unknown or revoked API token")
    user, token = found
    if people.token_use_is_stale(token):
        with db.write_session() as session:
            stored = session.get(ApiToken, token.id)
            if stored is not None:
                stored.last_used_at = utcnow()
    g.api_user = user


@api.errorhandler(HTTPException)
def _api_error(error: HTTPException) -> ResponseReturnValue:
    response = jsonify(detail=error.description)
    response.status_code = error.code or 500
    if error.code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tracefix"'
    return response


def _api_user() -> User:
    user: User = g.api_user
    return user


def issue_json(issue: Issue, project: Project) -> dict[str, Any]:
    return {
        "id": issue.id,
        "project": project.name,
        "title": issue.title,
        "culprit": issue.culprit,
        "type": issue.exception_type,
        "status": issue.status,
        "count": issue.event_count,
        "first_seen": iso(issue.first_seen),
        "last_seen": iso(issue.last_seen),
        "resolved_at": iso(issue.resolved_at) or None,
        "url": server_state().config.public_url + url_for("dashboard.issue", issue_id=issue.id),
    }


def fix_json(fix: Fix) -> dict[str, Any]:
    return {
        "id": fix.id,
        "issue": fix.issue_id,
        "release": fix.release,
        "state": fix.state,
        "code": fix.code,
        "diagnosis": fix.diagnosis,
        "diff": fix.diff,
        "log": fix.log,
        "error": fix.error,
        "branch": fix.branch,
        "commit_sha": fix.commit_sha,
        "pr_url": fix.pr_url,
        "pr_number": fix.pr_number,
        "pr_state": fix.pr_state,
        "merged_sha": fix.merged_sha,
        "checks": fix.checks,
        "checks_state": fix.checks_state,
        "created_at": iso(fix.created_at),
        "updated_at": iso(fix.updated_at),
    }


@api.get("/projects/")
def api_projects() -> ResponseReturnValue:
    with server_state().db.session() as session:
        listed = people.visible_projects(session, _api_user())
        counts = open_issue_counts(session, [p.id for p in listed])
    return jsonify(
        [
            {
                "id": p.id,
                "name": p.name,
                "open_issues": counts.get(p.id, 0),
                "created_at": iso(p.created_at),
            }
            for p in listed
        ]
    )


@api.get("/projects/<name>/issues/")
def api_issues(name: str) -> ResponseReturnValue:
    filters = IssueFilters.from_args(request.args)
    with server_state().db.session() as session:
        project = visible_project(session, _api_user(), name)
        page = list_issues(session, project.id, filters)
        return jsonify(
            issues=[issue_json(i, project) for i in page.issues],
            total=page.total,
            page=page.page,
            pages=page.pages,
            per_page=filters.per_page,
        )


@api.get("/issues/<int:issue_id>/")
def api_issue(issue_id: int) -> ResponseReturnValue:
    with server_state().db.session() as session:
        found = visible_issue(session, _api_user(), issue_id)
        return jsonify(_issue_detail_json(session, found))


@api.route("/issues/<int:issue_id>/", methods=["PUT", "PATCH"])
def api_update_issue(issue_id: int) -> ResponseReturnValue:
    body = request.get_json(silent=True)
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str):
        abort(400, 'a JSON body {"status": ...} is needed')
    with server_state().db.write_session() as session:
        found = visible_issue(session, _api_user(), issue_id)
        if found.merged_into_id is not None:
            abort(409, f"the issue was merged into issue {found.merged_into_id}")
        try:
            set_status(found, status)
        except ValueError as exc:
            abort(400, str(exc))
        session.flush()
        return jsonify(_issue_detail_json(session, found))


def _issue_detail_json(session: Session, found: Issue) -> dict[str, Any]:
    project = session.get(Project, found.project_id)
    assert project is not None
    event = latest_event(session, found.id)
    return {
        **issue_json(found, project),
        "merged_into": found.merged_into_id,
        "releases": [
            {
                "release": row.release,
                "environment": row.environment,
                "count": row.event_count,
                "first_seen": iso(row.first_seen),
                "last_seen": iso(row.last_seen),
            }
            for row in releases_of(session, found.id)
        ],
        "fixes": [
            {"id": f.id, "state": f.state, "release": f.release, "code": f.code, "pr_url": f.pr_url}
            for f in fixes_of(session, found)
        ],
        "latest_event": None
        if event is None
        else {
            "id": event.id,
            "event_id": event.event_id,
            "received_at": iso(event.received_at),
            "release": event.release,
            "environment": event.environment,
        },
    }


@api.get("/fixes/<int:fix_id>/")
def api_fix(fix_id: int) -> ResponseReturnValue:
    with server_state().db.session() as session:
        found, _ = visible_fix(session, _api_user(), fix_id)
        return jsonify(fix_json(found))
