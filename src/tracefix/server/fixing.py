"""The fix job: from an issue to a verified fix, a pushed branch and a pull request.

One attempt per issue and release (``Fix`` is unique on both): a job that runs twice finds the
attempt and does nothing, so it never opens a second pull request. The attempt:

1. checks the project's repository out at the event's release (``verify.checkout``);
2. finds the interpreter of the project's own environment (``verify.environment``);
3. works out how to run the failure again from the event (``reproduce``) and runs the engine
   of ``tracefix run`` on that command in the checkout: capture, diagnose, fix, verify (the
   command again and the project's tests, in isolated worktrees), commit on a new branch;
4. only when verified, pushes the branch and opens a pull request (``deliver``).

A candidate that does not verify is recorded as ``unverified`` and never delivered.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracefix import git
from tracefix.errors import NoFix
from tracefix.errors import NotReproduced
from tracefix.errors import TracefixError
from tracefix.errors import UnknownCause
from tracefix.errors import UnverifiedFix
from tracefix.pipeline import RunOptions
from tracefix.pipeline import RunReport
from tracefix.pipeline import run as run_pipeline
from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.grouping import exception_values
from tracefix.server.models import Event
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.models import Project
from tracefix.server.models import utcnow
from tracefix.server.reproduce import CannotReproduce
from tracefix.server.reproduce import Reproduction
from tracefix.server.reproduce import reproductions_for
from tracefix.verify.environment import EnvironmentCache
from tracefix.verify.environment import ProjectEnvironment

logger = logging.getLogger("tracefix.server")

#: The end of the command's output kept in a fix's log.
MAX_OUTPUT = 64 * 1024


@dataclass
class Outcome:
    """What an attempt ended in: the ``Fix`` columns to write."""

    state: str
    values: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


#: ``(config, project, checkout path) -> environment``: how the job finds the project's Python.
InterpreterFinder = Callable[[ServerConfig, Project, Path], ProjectEnvironment]
#: The start of a verified attempt's ``error`` when its delivery failed (tried again later).
NOT_DELIVERED = "verified, but not delivered"

#: What an attempt can end in that a person may have tried again, once its cause is dealt with:
#: the project's settings or environment, a flaky test, a newer tracefix.
TRIED_AGAIN_FROM = frozenset({"not_reproduced", "no_fix", "unverified", "failed"})
#: The columns of an attempt's outcome, cleared when it is tried again.
_OUTCOME_COLUMNS = (
    "code",
    "command",
    "diagnosis",
    "report",
    "diff",
    "error",
    "branch",
    "commit_sha",
)

#: ``(config, project, fix values) -> values to record``: how a verified branch is delivered.
Deliverer = Callable[[ServerConfig, Project, Path, dict[str, Any]], dict[str, Any]]


def attempt_fix(
    config: ServerConfig,
    db: Database,
    issue_id: int,
    *,
    interpreter: InterpreterFinder | None = None,
    deliver: Deliverer | None = None,
) -> int | None:
    """Run the attempt for the issue's latest release; the ``Fix`` id, or None when there is
    nothing to do (no such issue, or an attempt at this release exists already)."""
    claimed = _claim(config, db, issue_id)
    if claimed is None:
        return None
    fix_id, project, payload, release = claimed
    try:
        outcome = _attempt(
            config,
            project,
            payload,
            release,
            issue_id,
            interpreter or project_interpreter,
            deliver or deliver_branch,
        )
    except Exception as exc:
        logger.exception("tracefix: the fix attempt %d failed", fix_id)
        outcome = Outcome("failed", {"error": f"{type(exc).__name__}: {exc}"})
    with db.write_session() as session:
        fix = session.get(Fix, fix_id)
        if fix is not None:
            fix.state = outcome.state
            for key, value in outcome.values.items():
                setattr(fix, key, value)
            fix.log = "\n".join(outcome.log)
            fix.updated_at = utcnow()
    return fix_id


def queue_again(session: Session, fix: Fix) -> None:
    """Make a finished, undelivered attempt ``queued``, for the next fix job of its issue to
    take (``_claim``); ``ValueError``, saying why, when it cannot be tried again: it is not
    finished or was delivered, or the issue's events now come from another release (whose
    attempt the job would make instead)."""
    if fix.state not in TRIED_AGAIN_FROM:
        raise ValueError(f"a {fix.state} attempt is not tried again")
    event = session.scalars(_latest_event(fix.issue_id)).first()
    latest = event.release if event is not None else None
    if (latest or "") != fix.release:
        raise ValueError(
            f"the issue's latest event is from release {latest or '(none)'}, not "
            f"{fix.release or '(none)'}: its next fix job makes an attempt for that release"
        )
    fix.state = "queued"
    for column in _OUTCOME_COLUMNS:
        setattr(fix, column, None)
    fix.log = ""
    fix.updated_at = utcnow()


def _latest_event(issue_id: int) -> Select[Event]:
    """The issue's latest event: its release is the one an attempt is made for."""
    return select(Event).where(Event.issue_id == issue_id).order_by(Event.id.desc()).limit(1)


def abandoned_before(config: ServerConfig) -> dt.datetime:
    """An attempt ``running`` since before this was left by a job that died (a killed
    worker): no run of it lasts longer than its command, tests and checkout together."""
    return utcnow() - dt.timedelta(seconds=config.fix_timeout * 6)


def _claim(
    config: ServerConfig, db: Database, issue_id: int
) -> tuple[int, Project, dict[str, Any], str] | None:
    """Create the attempt for the issue's latest release and mark it running, in one
    transaction; None when it exists already (another job has it, or had it), unless the job
    that had it died."""
    try:
        with db.write_session() as session:
            issue = session.get(Issue, issue_id)
            if issue is None or issue.merged_into_id is not None:
                return None
            event = session.scalars(_latest_event(issue_id)).first()
            project = session.get(Project, issue.project_id)
            if event is None or project is None:
                return None
            release = event.release or ""
            query = select(Fix).where(Fix.issue_id == issue_id, Fix.release == release)
            fix = session.scalars(query.with_for_update()).first()
            if fix is None:
                fix = Fix(issue_id=issue_id, release=release, event_id=event.id, state="running")
                session.add(fix)
            elif fix.state == "queued":
                fix.state, fix.event_id, fix.updated_at = "running", event.id, utcnow()
            elif fix.state == "running" and fix.updated_at < abandoned_before(config):
                fix.log = f"taken over: the job that started it at {fix.updated_at} died"
                fix.updated_at = utcnow()
            else:
                return None
            session.flush()
            payload = json.loads(event.payload)
            session.expunge(project)
            return fix.id, project, payload, release
    except IntegrityError:
        return None  # another job created the attempt between our look and our insert


def _attempt(
    config: ServerConfig,
    project: Project,
    payload: dict[str, Any],
    release: str,
    issue_id: int,
    interpreter: InterpreterFinder,
    deliver: Deliverer,
) -> Outcome:
    from tracefix.verify.checkout import RepositoryCache

    if not project.repo:
        missing = f"the project {project.name} has no repository to fix (set its repo)"
        return Outcome("failed", {"error": missing})
    log: list[str] = []
    with RepositoryCache(config.repo_cache).checkout(project.repo, release or None) as checkout:
        log.append(f"checked out {checkout.source} at {checkout.commit[:12]} ({checkout.resolved})")
        environment = interpreter(config, project, checkout.path)
        python = str(environment.python)
        variables = environment.variables(checkout.path)
        log.append(f"interpreter: {python}")
        files = git.read_project(checkout.path)
        try:
            candidates = reproductions_for(payload, files, python)
        except CannotReproduce as exc:
            return Outcome("not_reproduced", {"error": str(exc)}, log)
        production_type = _exception_type(payload)
        report: RunReport | None = None
        output = io.StringIO()
        for candidate in candidates:
            log.append(f"running {candidate.description}: {_shown(candidate)}")
            report = run_pipeline(
                _run_options(
                    config, project, checkout.path, candidate, issue_id, release, variables
                ),
                output=output,
            )
            if _reproduced(report, production_type):
                break
            log.append("  it did not fail the way production did")
        assert report is not None
        outcome = _outcome(report, candidate, output.getvalue(), log)
        if outcome.state == "verified":
            try:
                outcome.values.update(deliver(config, project, checkout.path, outcome.values))
                outcome.state = "delivered"
            except TracefixError as exc:
                outcome.values["error"] = f"{NOT_DELIVERED}: {exc.message}"
                log.append(outcome.values["error"])
        return outcome


def _run_options(
    config: ServerConfig,
    project: Project,
    root: Path,
    candidate: Reproduction,
    issue_id: int,
    release: str,
    env: dict[str, str],
) -> RunOptions:
    settings = project.settings or {}
    test_command = settings.get("test_command")
    return RunOptions(
        argv=candidate.argv,
        cwd=root / candidate.cwd,
        test_cmd=tuple(test_command) if isinstance(test_command, list) else None,
        run_tests=settings.get("run_tests", True) is not False,
        branch=branch_name(issue_id, release),
        timeout=config.fix_timeout,
        env=env,
    )


def branch_name(issue_id: int, release: str) -> str:
    """One branch per attempt: ``tracefix/issue-12`` or ``tracefix/issue-12-1a2b3c4d5e6f``."""
    suffix = "".join(c if c.isalnum() or c in "._-" else "-" for c in release)[:12]
    return f"tracefix/issue-{issue_id}" + (f"-{suffix}" if suffix else "")


def _exception_type(payload: dict[str, Any]) -> str | None:
    values = exception_values(payload)
    kind = values[-1].get("type") if values else None
    return kind if isinstance(kind, str) else None


def _reproduced(report: RunReport, production_type: str | None) -> bool:
    if report.nothing_to_fix or isinstance(report.error, NotReproduced):
        return False
    event = report.event
    if event is None:
        return report.capture is not None and bool(report.capture.events)
    return production_type is None or event.exception.type == production_type


def _outcome(report: RunReport, candidate: Reproduction, output: str, log: list[str]) -> Outcome:
    from rich.console import Console

    from tracefix.cli.render import render_text
    from tracefix.cli.render import to_json

    document = to_json(report)
    document.pop("event", None)
    text = io.StringIO()
    render_text(report, Console(file=text, width=100, color_system=None, highlight=False))
    log += ["", "--- the command's output (its end) ---", output[-MAX_OUTPUT:], "", text.getvalue()]
    values: dict[str, Any] = {
        "command": list(candidate.argv),
        "report": document,
        "diagnosis": document.get("diagnosis"),
        "code": report.diagnosis.code if report.diagnosis else None,
        "diff": report.fix.diff() if report.fix else None,
    }
    error = report.error
    if report.nothing_to_fix:
        return Outcome("not_reproduced", {**values, "error": "the command passed"}, log)
    if error is None:
        values.update(branch=report.branch, commit_sha=report.commit)
        return Outcome("verified", values, log)
    values["error"] = error.message
    if isinstance(error, NotReproduced):
        return Outcome("not_reproduced", values, log)
    if isinstance(error, UnverifiedFix):
        return Outcome("unverified", values, log)
    if isinstance(error, (UnknownCause, NoFix)):
        return Outcome("no_fix", values, log)
    return Outcome("failed", values, log)


def _shown(candidate: Reproduction) -> str:
    argv = list(candidate.argv)
    if len(argv) > 2 and argv[1] == "-c":
        argv[2] = "<replay script>"
    return " ".join(argv)


def project_interpreter(config: ServerConfig, project: Project, root: Path) -> ProjectEnvironment:
    """The interpreter named in the project's settings, else the environment built from the
    repository's requirements."""
    named = (project.settings or {}).get("python")
    environments = EnvironmentCache(config.env_cache, timeout=config.fix_timeout)
    return environments.environment(root, python=named if isinstance(named, str) else None)


def deliver_branch(
    config: ServerConfig, project: Project, root: Path, values: dict[str, Any]
) -> dict[str, Any]:
    """Push the verified branch to the project's repository and open a pull request when the
    project names a forge."""
    from tracefix.server.delivery import deliver

    return deliver(project, root, values)
