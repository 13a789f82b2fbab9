"""From a failing command to a verified fix: capture, diagnose, fix, verify, deliver.

This is the one place that strings the stages together, for ``tracefix run`` today and for the
server's fix jobs later. Each stage takes plain data and returns plain data; this module only
decides what happens next and turns a dead end into the ``TracefixError`` that says why.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import TextIO

from tracefix import git
from tracefix.capture.runner import Capture
from tracefix.capture.runner import run_captured
from tracefix.deliver.apply import apply_changes
from tracefix.deliver.apply import dirty_paths
from tracefix.deliver.branch import commit_on_new_branch
from tracefix.deliver.branch import default_branch_name
from tracefix.diagnose import diagnose
from tracefix.diagnose.diagnosis import Diagnosis
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_context_error
from tracefix.errors import DirtyFiles
from tracefix.errors import NoFix
from tracefix.errors import NotReproduced
from tracefix.errors import TracefixError
from tracefix.errors import UnknownCause
from tracefix.errors import UnverifiedFix
from tracefix.errors import UserSyntaxError
from tracefix.event import Event
from tracefix.verify.verifier import Verification
from tracefix.verify.verifier import verify_fix

if TYPE_CHECKING:
    from tracefix.recipes._base import FixSuccess
    from tracefix.recipes._base import Recipe

#: Modules the diagnose and fix stages need, and the report after them: LibCST and the recipe
#: table alone take a fifth of a second to import, so they load while the user's command runs.
WARM_MODULES = ("tracefix.recipes", "tracefix.recipes._fixing", "tracefix.cli.render")


@dataclass(frozen=True)
class RunOptions:
    argv: tuple[str, ...]
    cwd: Path
    test_cmd: tuple[str, ...] | None = None
    run_tests: bool = True
    apply: bool = False
    #: ``None``: no branch; ``""``: a branch with the default name; else the branch's name.
    branch: str | None = None
    timeout: float = 600.0
    #: The environment the command and the tests run in (default: ours); the server passes a
    #: project environment's (``verify.environment``), so its ``PATH`` and ``PYTHONPATH`` apply.
    env: Mapping[str, str] | None = field(default=None, compare=False)


@dataclass
class RunReport:
    """Everything one ``tracefix run`` learnt, whether it ended in a fix or not."""

    options: RunOptions
    capture: Capture | None = None
    event: Event | None = None
    diagnosis: Diagnosis | None = None
    recipe: Recipe | None = None
    fix: FixSuccess | None = None
    verification: Verification | None = None
    applied: bool = False
    branch: str | None = None
    commit: str | None = None
    error: TracefixError | None = None
    #: Seconds per stage: capture, diagnose, fix, verify, deliver, and the user's own runs.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0

    @property
    def nothing_to_fix(self) -> bool:
        return self.error is None and self.event is None


def run(options: RunOptions, *, output: TextIO | None = None) -> RunReport:
    """Run the whole pipeline. Never raises a ``TracefixError``: it ends up in ``report.error``.

    ``output`` receives the user's command's output as it runs (default: this process's own
    stdout and stderr).
    """
    report = RunReport(options)
    try:
        _run(options, report, output)
    except TracefixError as exc:
        report.error = exc
    return report


def _run(options: RunOptions, report: RunReport, output: TextIO | None) -> None:
    root = git.toplevel(options.cwd)

    warm = threading.Thread(target=_import_quietly, args=(WARM_MODULES,), daemon=True)
    warm.start()
    started = time.perf_counter()
    capture = run_captured(
        options.argv,
        cwd=options.cwd,
        project_root=root,
        stream=True,
        stdout=output,
        stderr=output,
        env=options.env,
        timeout=options.timeout,
    )
    report.capture = capture
    report.timings["capture"] = time.perf_counter() - started
    report.timings["user_command"] = capture.seconds
    if not capture.events:
        if capture.returncode == 0:
            return
        raise UnknownCause(
            f"the command exited with {capture.returncode} but raised no Python exception"
        )

    started = time.perf_counter()
    warm.join()
    project = git.read_project(root)
    report.event, report.diagnosis = _diagnose(capture.events, project)
    report.timings["diagnose"] = time.perf_counter() - started
    diagnosis = report.diagnosis

    from tracefix.recipes import _base
    from tracefix.recipes import recipe_by_code
    from tracefix.recipes._fixing import apply_fix

    started = time.perf_counter()
    recipe = report.recipe = recipe_by_code(diagnosis.code)
    result = apply_fix(recipe, diagnosis, project)
    report.timings["fix"] = time.perf_counter() - started
    if not isinstance(result, _base.FixSuccess):
        reason = result.reason if isinstance(result, _base.FixSkip) else result.error
        raise NoFix(f"{diagnosis.code} recognised the failure, but no safe fix applies: {reason}")
    report.fix = result

    paths = [change.path for change in result.changes]
    dirty = dirty_paths(root, paths)
    if dirty:
        raise DirtyFiles(
            f"the fix would change {', '.join(dirty)}, which has uncommitted changes; "
            "commit or stash them first"
        )

    started = time.perf_counter()
    verification = verify_fix(
        root,
        options.argv,
        _relative_cwd(root, options.cwd),
        report.event,
        result.changes,
        project,
        python=python_for(options.argv),
        test_cmd=options.test_cmd,
        run_tests=options.run_tests,
        timeout=options.timeout,
        env=options.env,
    )
    report.verification = verification
    report.timings["verify"] = time.perf_counter() - started
    for key, seconds in verification.timings.items():
        report.timings[f"verify.{key}"] = seconds
    if not verification.reproduced:
        raise NotReproduced(
            f"the failure did not happen again in a clean worktree: {verification.reproduce_detail}"
        )
    if not verification.verified:
        raise UnverifiedFix("the candidate fix did not verify: " + "; ".join(verification.reasons))

    started = time.perf_counter()
    if options.apply:
        apply_changes(root, result.changes)
        report.applied = True
    if options.branch is not None:
        branch = options.branch or default_branch_name(diagnosis.code, report.event.event_id)
        message = f"{recipe.fix_title}\n\n{diagnosis.code} {diagnosis.name}: {diagnosis.summary}\n"
        report.commit = commit_on_new_branch(root, result.changes, branch, message)
        report.branch = branch
    report.timings["deliver"] = time.perf_counter() - started


def _diagnose(events: Sequence[Event], project: Project) -> tuple[Event, Diagnosis]:
    """The first captured event a recipe recognises. Otherwise the error names the first
    context error, where there is one (a test's, not the teardown errors it led to), else the
    last event."""
    for event in events:
        if event.exception.type == "SyntaxError":
            raise UserSyntaxError(f"syntax error: {event.exception.first_line}")
        diagnosis = diagnose(event, project)
        if diagnosis is not None:
            return event, diagnosis
    named = next((e for e in events if is_context_error(e.exception)), events[-1])
    where = named.trigger_frame() or (named.frames[-1] if named.frames else None)
    location = f" at {where.filename}:{where.lineno}" if where else ""
    raise UnknownCause(
        f"{named.exception.type}: {named.exception.first_line}{location} "
        "is not a cause tracefix knows; no patch proposed"
    )


def _import_quietly(modules: Sequence[str]) -> None:
    """Import ``modules`` ahead of need; a failure here shows again, properly, when used."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:
            return


def _relative_cwd(root: Path, cwd: Path) -> str:
    return Path(os.path.relpath(cwd.resolve(), root.resolve())).as_posix()


def python_for(argv: Sequence[str]) -> str:
    """The interpreter that runs the user's command, so their tests run in the same environment.

    ``python …`` names it; a console script (``pytest``, ``flask``) names it in its shebang;
    otherwise the first ``python3`` on PATH, and last the interpreter running tracefix.
    """
    executable = shutil.which(argv[0]) if argv else None
    if executable:
        name = Path(executable).name
        if name.startswith("python"):
            return executable
        try:
            with open(executable, "rb") as script:
                first_line = script.readline(512)
        except OSError:
            first_line = b""
        if first_line.startswith(b"#!"):
            interpreter = first_line[2:].decode(errors="replace").split()
            if interpreter and Path(interpreter[0]).name == "env":
                interpreter = [shutil.which(interpreter[1]) or ""] if len(interpreter) > 1 else []
            if interpreter and Path(interpreter[0]).name.startswith("python"):
                return interpreter[0]
    return shutil.which("python3") or shutil.which("python") or sys.executable
