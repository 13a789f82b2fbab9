"""How a ``RunReport`` looks: a short human report (rich), or one JSON document for programs."""

from __future__ import annotations

import shlex
from textwrap import indent
from typing import Any

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from tracefix.diagnose.signatures import APP_CONTEXT_MESSAGES
from tracefix.diagnose.signatures import REQUEST_CONTEXT_MESSAGES
from tracefix.errors import NotReproduced
from tracefix.errors import UnverifiedFix
from tracefix.pipeline import RunReport
from tracefix.verify.tests import NO_TESTS_COLLECTED
from tracefix.verify.tests import TestRun
from tracefix.verify.tests import is_pytest

JSON_FORMAT_VERSION = 1


def status(report: RunReport) -> str:
    """One word for the outcome; the JSON document's ``status``."""
    if report.error is None:
        if report.nothing_to_fix:
            return "passed"
        return "committed" if report.branch else "applied" if report.applied else "verified"
    if isinstance(report.error, UnverifiedFix):
        return "unverified"
    return "error"


def render_text(report: RunReport, console: Console) -> None:
    """The human report, written after the user's own command output."""
    if report.nothing_to_fix:
        console.print(f"tracefix: {_command(report)} passed: nothing to fix.")
        stderr = report.capture.stderr_tail.lower() if report.capture else ""
        if any(message in stderr for message in APP_CONTEXT_MESSAGES + REQUEST_CONTEXT_MESSAGES):
            console.print(
                "  Its output shows a Flask context error that it caught itself (a log line, a "
                "job runner's report): tracefix fixes an error that ends the command or a thread."
            )
        return

    event = report.event
    if event is not None:
        frame = event.trigger_frame()
        where = f"{frame.filename}:{frame.lineno} in {frame.function}" if frame else "unknown place"
        thread = f" (thread {event.thread_name})" if event.in_thread else ""
        console.print()
        console.print(
            Text.assemble(
                ("captured ", "bold"),
                f"{event.exception.type}: {event.exception.first_line}",
                f"\n  at {where}{thread}",
            )
        )

    if report.diagnosis is not None:
        d = report.diagnosis
        console.print()
        console.print(
            Text.assemble((f"{d.code} ", "bold magenta"), (d.name, "bold"), f"  {d.summary}")
        )
        console.print(d.explanation)

    if report.fix is not None and report.recipe is not None:
        console.print()
        verified = report.error is None
        label = "fix" if verified else "unverified candidate (not a fix)"
        console.print(
            Text.assemble(
                (label, "bold green" if verified else "bold yellow"),
                f" [{report.recipe.applicability.value}]: {report.recipe.fix_title}",
            )
        )
        console.print(
            Syntax(report.fix.diff(), "diff", theme="ansi_dark", background_color="default")
        )

    if report.verification is not None and not isinstance(report.error, NotReproduced):
        _render_verification(report, console)

    console.print()
    if report.error is not None:
        console.print(Text(f"tracefix: error: {report.error.message}", style="bold red"))
    else:
        console.print(Text(_outcome(report), style="bold green"))
    if report.timings:
        console.print(Text(timing_line(report), style="dim"))


def _render_verification(report: RunReport, console: Console) -> None:
    v = report.verification
    assert v is not None
    console.print(Text("verification", style="bold"))
    command = _command(report)
    #: ``None``: a check that could not say anything either way.
    checks: list[tuple[bool | None, str]] = [(v.reproduced, f"reproduced: {v.reproduce_detail}")]
    if v.after_returncode is not None:
        after_ok = v.after_returncode == 0 and not v.after_errors
        detail = f"exits {v.after_returncode}"
        if v.after_errors:
            detail += "; raised " + "; ".join(v.after_errors)
        else:
            detail += ", no exception in any thread"
        checks.append((after_ok, f"after the fix: {command} {detail}"))
    if v.tests_before is not None and v.tests_after is not None:
        before, after = _tests_summary(v.tests_before), _tests_summary(v.tests_after)
        detail = f"tests before: {before}; after: {after}"
        by_exit_code = not v.tests_before.outcomes
        if by_exit_code and not (is_pytest(v.tests_before.command) and v.tests_before.ok):
            detail += f" (`{shlex.join(v.tests_before.command)}`, judged by its exit code)"
        if v.regressions:
            detail += "; broken by the fix: " + ", ".join(v.regressions)
            checks.append((False, detail))
        elif by_exit_code and not v.tests_before.ok and v.tests_after.ok:
            checks.append((True, f"{detail}: they fail without the fix and pass with it"))
        elif by_exit_code and not v.tests_before.ok:
            # A command that fails without the fix (not found: 127; pytest not installed; a
            # conftest that does not import) cannot tell a broken test from an old failure.
            detail += ", which fails without the fix, so it cannot tell what the fix breaks"
            checks.append((None, detail + " (--test-cmd)"))
        else:
            checks.append((True, detail))
    elif report.options.run_tests:
        checks.append((True, "tests: none found"))
    checks.append(
        (
            not v.integrity_problems,
            "; ".join(v.integrity_problems) or "no test assertion edited, deleted or skipped",
        )
    )
    checks.append((not v.leaks, "; ".join(v.leaks) or "no Flask context left pushed"))
    marks = {True: ("  ✓ ", "green"), False: ("  ✗ ", "red"), None: ("  - ", "yellow")}
    for ok, text in checks:
        console.print(Text.assemble(marks[ok], text))
        if ok is False and text.startswith("after the fix") and v.after_stderr_tail:
            console.print(Text(indent(v.after_stderr_tail, "      "), style="dim"))


def _outcome(report: RunReport) -> str:
    if report.branch:
        commit = (report.commit or "")[:12]
        return (
            f"Verified fix committed on branch {report.branch} ({commit}); "
            "your checkout is unchanged."
        )
    if report.applied:
        return "Verified fix applied to your work tree."
    return "Verified fix. Write it with --apply, or commit it on a new branch with --branch."


def _tests_summary(run: TestRun) -> str:
    counts: dict[str, int] = {}
    for outcome in run.outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    if not counts:
        # Per-test outcomes come from pytest; any other runner (``python -m unittest``, a
        # ``--test-cmd``) is judged by its exit code alone, which must not read as "no tests".
        if is_pytest(run.command) and run.returncode in (0, NO_TESTS_COLLECTED):
            return "no tests"
        return f"exit {run.returncode}"
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


def timing_line(report: RunReport) -> str:
    t = report.timings
    parts = [
        f"{name} {t[name]:.2f} s" for name in ("capture", "diagnose", "fix", "verify") if name in t
    ]
    own = own_seconds(report)
    total = sum(t.get(k, 0.0) for k in ("capture", "diagnose", "fix", "verify", "deliver"))
    return (
        f"time: {', '.join(parts)}; waiting for your command and tests {total - own:.2f} s, "
        f"tracefix itself {own:.2f} s"
    )


def own_seconds(report: RunReport) -> float:
    """tracefix's own work: every stage, less the time spent waiting for the user's command and
    tests (the verifier overlaps some of those runs, so it reports its own share itself)."""
    t = report.timings
    capture_overhead = max(t.get("capture", 0.0) - t.get("user_command", 0.0), 0.0)
    verify_own = t.get("verify.own", t.get("verify", 0.0))
    return (
        capture_overhead
        + t.get("diagnose", 0.0)
        + t.get("fix", 0.0)
        + verify_own
        + t.get("deliver", 0.0)
    )


def to_json(report: RunReport) -> dict[str, Any]:
    """The whole result as one JSON-serialisable document."""
    doc: dict[str, Any] = {
        "version": JSON_FORMAT_VERSION,
        "status": status(report),
        "exit_code": report.exit_code,
        "command": list(report.options.argv),
        "returncode": report.capture.returncode if report.capture else None,
        "event": report.event.to_dict() if report.event else None,
        "events_captured": len(report.capture.events) if report.capture else 0,
        "diagnosis": report.diagnosis.to_dict() if report.diagnosis else None,
        "fix": None,
        "verification": None,
        "delivery": {"applied": report.applied, "branch": report.branch, "commit": report.commit},
        "timings": {k: round(v, 4) for k, v in report.timings.items()},
        "error": None,
    }
    if report.fix is not None and report.recipe is not None:
        doc["fix"] = {
            "verified": report.error is None,
            "title": report.recipe.fix_title,
            "applicability": report.recipe.applicability.value,
            "diff": report.fix.diff(),
            "files": [c.path for c in report.fix.changes],
        }
    v = report.verification
    if v is not None:
        doc["verification"] = {
            "verified": v.verified,
            "reasons": list(v.reasons),
            "reproduced": v.reproduced,
            "reproduce_detail": v.reproduce_detail,
            "after_returncode": v.after_returncode,
            "after_errors": list(v.after_errors),
            "after_stderr_tail": v.after_stderr_tail,
            "tests_before": _test_run_json(v.tests_before),
            "tests_after": _test_run_json(v.tests_after),
            "regressions": list(v.regressions),
            "integrity_problems": list(v.integrity_problems),
            "leaks": list(v.leaks),
        }
    if report.error is not None:
        doc["error"] = {"type": type(report.error).__name__, "message": report.error.message}
    return doc


def _test_run_json(run: TestRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "command": list(run.command),
        "returncode": run.returncode,
        "outcomes": dict(run.outcomes),
    }


def _command(report: RunReport) -> str:
    return f"`{shlex.join(report.options.argv)}`"
