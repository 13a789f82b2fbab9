"""Delivering a verified fix: push its branch, open a pull request, follow its checks.

The project's settings say where: ``remote`` (where to push; default the project's
repository), and for a pull request ``forge`` (``github``, ``gitlab``, ``gitea``), with
``forge_url`` (the repository's web or clone URL on the forge, when ``remote`` is not it),
``forge_api_url`` (a self-hosted forge's API) and ``token_env`` (the server's environment
variable holding the token; default ``TRACEFIX_FORGE_TOKEN``). The token never reaches the
database or a log.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select

from tracefix.deliver.forges.base import Forge
from tracefix.deliver.forges.base import PullRequest
from tracefix.deliver.forges.base import PullRequestSpec
from tracefix.deliver.forges.base import summarize
from tracefix.deliver.push import push_branch
from tracefix.errors import DeliveryError
from tracefix.errors import TracefixError
from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.models import Project
from tracefix.server.models import utcnow

logger = logging.getLogger("tracefix.server")

DEFAULT_TOKEN_ENV = "TRACEFIX_FORGE_TOKEN"


def deliver(project: Project, root: Path, values: dict[str, Any]) -> dict[str, Any]:
    """Push ``values["branch"]`` from the checkout at ``root`` and open its pull request;
    the ``Fix`` columns to record. Raises ``DeliveryError``."""
    settings = project.settings or {}
    branch = values.get("branch")
    remote = settings.get("remote") or project.repo
    if not branch or not remote:
        raise DeliveryError("nothing to push: no branch, or no remote for the project")
    token = _token(settings)
    forge = _forge(settings, remote, token)
    pushed = push_branch(
        root,
        remote,
        branch,
        commit=values.get("commit_sha"),
        token=token if remote.startswith("https://") else None,
        username=forge.git_username if forge is not None else "x-access-token",
    )
    recorded: dict[str, Any] = {"commit_sha": pushed.commit}
    if forge is None:
        return recorded
    try:
        pull_request = forge.open_pull_request(
            PullRequestSpec(
                head=branch,
                title=_title(values),
                body=pull_request_body(values),
                base=pushed.default_branch,
            )
        )
        recorded.update(_pull_request_columns(pull_request))
        checks = forge.checks(pull_request)
        recorded.update(
            checks=[_check_json(check) for check in checks], checks_state=str(summarize(checks))
        )
    finally:
        forge.close()
    return recorded


def refresh_checks(project: Project, fix: Fix) -> dict[str, Any]:
    """The pull request's state and CI checks now, as ``Fix`` columns."""
    settings = project.settings or {}
    remote = settings.get("remote") or project.repo
    forge = _forge(settings, remote or "", _token(settings))
    if forge is None or fix.pr_number is None:
        return {}
    try:
        pull_request = forge.get_pull_request(fix.pr_number)
        checks = forge.checks(pull_request)
    finally:
        forge.close()
    return {
        **_pull_request_columns(pull_request),
        "checks": [_check_json(check) for check in checks],
        "checks_state": str(summarize(checks)),
    }


def follow_pull_requests(db: Database) -> int:
    """Refresh the state and checks of the delivered fixes' pull requests that are still open
    (checks run again on new pushes; the merge commit is what releases descend from); how
    many were refreshed. A forge that fails is tried again on the next round."""
    rows = _fixes_and_projects(
        db,
        Fix.state == "delivered",
        Fix.pr_number.is_not(None),
        or_(Fix.pr_state.is_(None), Fix.pr_state == "open"),
    )
    refreshed = 0
    for fix, project in rows:
        try:
            values = refresh_checks(project, fix)
        except TracefixError as exc:
            logger.warning("tracefix: checks of fix %d: %s", fix.id, exc.message)
            continue
        with db.write_session() as session:
            stored = session.get(Fix, fix.id)
            if stored is not None:
                for key, value in values.items():
                    setattr(stored, key, value)
        refreshed += 1
    return refreshed


#: How long after its attempt a verified fix whose delivery failed is tried again.
DELIVERY_RETRY_PERIOD = dt.timedelta(hours=24)


def retry_deliveries(config: ServerConfig, db: Database, now: dt.datetime | None = None) -> int:
    """Deliver again the verified fixes whose push or pull request failed (a forge down or
    rate limited, a token set or renewed since); how many were delivered now.

    The fix's commit is still in the repository cache's mirror, where its attempt made it:
    it is checked out again and pushed as it was verified, never re-made. A fix is tried
    again after a quarter of its age (at least one review interval), so a forge down for
    hours is not hammered, and no more once ``DELIVERY_RETRY_PERIOD`` has passed.
    """
    from tracefix.server.fixing import NOT_DELIVERED
    from tracefix.verify.checkout import RepositoryCache

    now = now or utcnow()
    rows = _fixes_and_projects(
        db,
        Fix.state == "verified",
        Fix.error.startswith(NOT_DELIVERED),
        Fix.commit_sha.is_not(None),
        Fix.branch.is_not(None),
        Fix.created_at > now - DELIVERY_RETRY_PERIOD,
    )
    delivered = 0
    for fix, project in rows:
        wait = max(dt.timedelta(seconds=config.review_interval), (now - fix.created_at) / 4)
        if now - fix.updated_at < wait or not project.repo:
            continue
        values = {column: getattr(fix, column) for column in _PULL_REQUEST_INPUTS}
        try:
            cache = RepositoryCache(config.repo_cache)
            with cache.checkout(project.repo, fix.commit_sha) as checkout:
                values = {
                    "state": "delivered",
                    "error": None,
                    **deliver(project, checkout.path, values),
                }
        except TracefixError as exc:
            logger.warning("tracefix: delivering fix %d again: %s", fix.id, exc.message)
            values = {"error": f"{NOT_DELIVERED}: {exc.message}"}
        with db.write_session() as session:
            stored = session.get(Fix, fix.id)
            if stored is None or stored.state != "verified":
                continue
            for key, value in values.items():
                setattr(stored, key, value)
            stored.updated_at = utcnow()
            delivered += stored.state == "delivered"
    return delivered


#: The ``Fix`` columns a delivery reads: the branch, its commit, and the pull request's body.
_PULL_REQUEST_INPUTS = ("branch", "commit_sha", "code", "command", "report", "diff")


def _fixes_and_projects(db: Database, *conditions: Any) -> list[tuple[Fix, Project]]:
    """The attempts that meet ``conditions``, each with its issue's project, detached."""
    with db.session() as session:
        rows = session.execute(
            select(Fix, Project)
            .join(Issue, Issue.id == Fix.issue_id)
            .join(Project, Project.id == Issue.project_id)
            .where(*conditions)
        ).all()
    return [(fix, project) for fix, project in rows]


def _token(settings: dict[str, Any]) -> str | None:
    return os.environ.get(str(settings.get("token_env") or DEFAULT_TOKEN_ENV)) or None


def _forge(settings: dict[str, Any], remote: str, token: str | None) -> Forge | None:
    from tracefix.deliver.forges.detect import forge_for

    kind = settings.get("forge")
    if not kind:
        return None
    if token is None:
        name = settings.get("token_env") or DEFAULT_TOKEN_ENV
        raise DeliveryError(f"the project's forge needs a token: set {name} for the server")
    return forge_for(
        str(settings.get("forge_url") or remote),
        kind,
        settings.get("forge_api_url"),
        token=token,
    )


def _pull_request_columns(pull_request: PullRequest) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "pr_url": pull_request.url,
        "pr_number": pull_request.number,
        "pr_state": pull_request.state,
    }
    if pull_request.merge_commit_sha:
        columns["merged_sha"] = pull_request.merge_commit_sha
    return columns


def _check_json(check: Any) -> dict[str, Any]:
    return {
        "name": check.name,
        "state": str(check.state),
        "detail": check.detail,
        "url": check.url,
        "description": check.description,
    }


def _title(values: dict[str, Any]) -> str:
    fix = (values.get("report") or {}).get("fix") or {}
    title = fix.get("title") or "Fix a Flask context error"
    code = values.get("code")
    return f"{title} ({code})" if code else str(title)


def pull_request_body(values: dict[str, Any]) -> str:
    """The diagnosis, the diff and the verification evidence, in Markdown."""
    report = values.get("report") or {}
    diagnosis = report.get("diagnosis") or {}
    verification = report.get("verification") or {}
    lines = [
        "tracefix found the cause of a production error, wrote this fix and verified it.",
        "",
        f"**Diagnosis ({diagnosis.get('code', '?')} {diagnosis.get('name', '')})**: "
        f"{diagnosis.get('summary', '')}",
        "",
        "**Verification**",
        f"- the failure was reproduced by running `{_command(values)}`",
        f"- with the fix, it ran again without the error (exit "
        f"{verification.get('after_returncode')})",
    ]
    for label, key in (("before", "tests_before"), ("after", "tests_after")):
        tests = verification.get(key)
        if tests:
            outcomes = ", ".join(f"{n} {k}" for k, n in sorted(tests.get("outcomes", {}).items()))
            lines.append(f"- the project's tests {label} the fix: {outcomes or 'none'}")
    lines.append(f"- no context leaked: {'yes' if not verification.get('leaks') else 'no'}")
    lines += ["", "```diff", str(values.get("diff") or "").rstrip(), "```", ""]
    return "\n".join(lines)


def _command(values: dict[str, Any]) -> str:
    argv = [str(a) for a in values.get("command") or []]
    if len(argv) > 2 and argv[1] == "-c":
        return " ".join([Path(argv[0]).name, "-c", "<replay of the request>"])
    return " ".join([Path(argv[0]).name, *argv[1:]]) if argv else "?"
