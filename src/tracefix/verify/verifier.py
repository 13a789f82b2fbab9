"""The verify stage: prove a candidate fix in isolated worktrees before anyone calls it a fix.

A fix is verified when, on a copy of the user's tree, the failure happens again without it; with
it the command exits 0 and no thread raises; no test that passed before fails after; the tests
keep every assertion; and no Flask context is left pushed that was not before.

The command and the tests get a worktree each, so the files one writes (a SQLite database, an
upload folder) cannot change what the other sees, and the two run at the same time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path

from tracefix.capture.runner import Capture
from tracefix.capture.runner import run_captured
from tracefix.deliver.apply import apply_changes
from tracefix.diagnose.project import Project
from tracefix.diagnose.signatures import is_context_error
from tracefix.errors import CommandNotFound
from tracefix.errors import DeliveryError
from tracefix.event import Event
from tracefix.patch import FileChange
from tracefix.verify.integrity import check_context_balance
from tracefix.verify.integrity import check_test_integrity
from tracefix.verify.tests import TestRun
from tracefix.verify.tests import compare
from tracefix.verify.tests import find_test_command
from tracefix.verify.tests import run_tests as run_test_command
from tracefix.verify.worktree import isolated_worktree

MAX_LISTED = 5
#: Running the tests beside the command needs a way to stop them on Ctrl-C: their process is
#: found through /proc, so elsewhere the two run one after the other.
CONCURRENT = Path("/proc/self/stat").exists()


#: Lines of the command's stderr kept for a report, when the run after the fix failed.
AFTER_TAIL_LINES = 12


@dataclass(frozen=True)
class Verification:
    """The verdict on one candidate fix, with the evidence for it.

    ``reasons`` holds one short sentence per failed check and is empty exactly when ``verified``.
    When ``reproduced`` is false nothing after the reproduction ran, and ``reproduce_detail``
    says what happened instead. ``timings`` are seconds: ``worktree`` (creating and removing
    them), ``reproduce`` and ``after`` (the user's command), ``tests_before``, ``tests_after``,
    and ``own``: the total less the time spent waiting for the user's command and tests.
    """

    verified: bool
    reasons: tuple[str, ...]
    reproduced: bool
    reproduce_detail: str
    after_returncode: int | None
    after_errors: tuple[str, ...]
    tests_before: TestRun | None
    tests_after: TestRun | None
    regressions: tuple[str, ...]
    integrity_problems: tuple[str, ...]
    leaks: tuple[str, ...]
    timings: dict[str, float]
    #: The end of what the command wrote to stderr after the fix, for a run that failed.
    after_stderr_tail: str = ""


def verify_fix(
    repo_root: Path,
    argv: Sequence[str],
    cwd_in_repo: str,
    event: Event,
    changes: Sequence[FileChange],
    project_before: Project,
    *,
    python: str,
    test_cmd: Sequence[str] | None = None,
    run_tests: bool = True,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    side_by_side: bool = CONCURRENT,
) -> Verification:
    """Verify ``changes`` as the fix of ``event``, raised by ``argv`` run in ``cwd_in_repo``.

    ``python`` runs the tests (the interpreter of the user's command); ``test_cmd`` replaces the
    detected test command; ``timeout`` limits each run of the command or of the tests; ``env``
    is the environment both run in (default: ours), such as a project environment's. A failing
    user command is a verdict, never an exception: only tracefix's own failures raise
    (``WorktreeError``), and Ctrl-C propagates once the worktrees are gone.

    The command and the tests run ``side_by_side`` where they can. When only the tests reject a
    fix (the command passed after it, and no test was edited), all of it runs again one after
    the other: a suite that shares a database with the command (Redash's drops and makes its
    tables in each ``setUp``) may have failed because of the command, not of the fix.
    """
    if not argv:
        raise ValueError("verify_fix needs the command that failed")
    problems = (*check_test_integrity(changes, project_before), *check_context_balance(changes))

    def attempt(together: bool) -> Verification:
        root = Path(repo_root).resolve()
        trial = _Trial(root, tuple(argv), cwd_in_repo, python, test_cmd, timeout, env)
        trial.side_by_side = together
        return trial.verify(event, changes, problems, run_tests=run_tests)

    verdict = attempt(side_by_side)
    command_passed = verdict.after_returncode == 0 and not verdict.after_errors
    if side_by_side and run_tests and not verdict.verified and command_passed and not problems:
        again = attempt(False)
        timings = {k: v + again.timings.get(k, 0.0) for k, v in verdict.timings.items()}
        return replace(again, timings=timings)
    return verdict


@dataclass
class _Trial:
    """One verification's state: where things run and what each run took."""

    repo_root: Path
    argv: tuple[str, ...]
    cwd_in_repo: str
    python: str
    test_cmd: Sequence[str] | None
    timeout: float
    env: Mapping[str, str] | None = None
    command_tree: Path = Path()
    tests_tree: Path | None = None
    #: Ignored local files of the user's tree too big to copy into the worktrees.
    left_out: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: Seconds during which the command and the tests ran at the same time (counted twice above).
    overlap: float = 0.0
    #: Whether the command and the tests run at the same time.
    side_by_side: bool = CONCURRENT

    def verify(
        self,
        event: Event,
        changes: Sequence[FileChange],
        problems: Sequence[str],
        *,
        run_tests: bool,
    ) -> Verification:
        """``run`` in worktrees made for it, with what each part took."""
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            command_worktree = stack.enter_context(isolated_worktree(self.repo_root))
            self.command_tree, self.left_out = command_worktree.path, command_worktree.left_out
            if run_tests:
                self.tests_tree = stack.enter_context(isolated_worktree(self.repo_root)).path
            self.timings["worktree"] = time.perf_counter() - started
            verdict = self.run(event, changes, problems)
            removing = time.perf_counter()
        self.timings["worktree"] += time.perf_counter() - removing
        waited = sum(
            self.timings.get(k, 0.0) for k in ("reproduce", "after", "tests_before", "tests_after")
        )
        self.timings["own"] = max(time.perf_counter() - started - waited + self.overlap, 0.0)
        return replace(verdict, timings=self.timings)

    def run(
        self, event: Event, changes: Sequence[FileChange], problems: Sequence[str]
    ) -> Verification:
        tests = self._find_tests()
        before, tests_before = self._run_both(tests, "reproduce", "tests_before")
        if isinstance(before, str):
            return _not_reproduced(before, problems, tests_before)
        reproduced, detail = _reproduces(before, event, self.repo_root)
        if not reproduced:
            return _not_reproduced(detail, problems, tests_before)

        try:
            for tree in (self.command_tree, self.tests_tree):
                if tree is not None:
                    apply_changes(tree, changes)
        except DeliveryError as exc:
            reason = f"the fix does not apply to a copy of your tree: {exc.message}"
            return _verdict((reason, *problems), detail, problems=problems)

        after, tests_after = self._run_both(tests, "after", "tests_after")
        reasons: list[str] = []
        after_capture: Capture | None
        after_errors: tuple[str, ...]
        if isinstance(after, str):
            after_capture, after_errors = None, (after,)
            reasons.append(f"after the fix the command does not start: {after}")
        else:
            after_capture, after_errors = after, tuple(_describe(e) for e in after.events)
            if after.events:
                reasons.append(_after_reason(after.events[-1], event, self.left_out))
            elif after.returncode != 0:
                reasons.append(f"after the fix the command exits with {after.returncode}")
        regressions = (
            tuple(compare(tests_before, tests_after)) if tests_before and tests_after else ()
        )
        if regressions:
            reasons.append(f"the fix breaks {_listed(regressions)}")
        reasons.extend(problems)
        leaks = (
            *(after_capture.leaks if after_capture else ()),
            *_new_leaks(tests_before, tests_after),
        )
        if leaks:
            reasons.append(f"the fix leaves a Flask context pushed ({leaks[0]})")
        return _verdict(
            tuple(reasons),
            detail,
            problems=problems,
            after=after_capture,
            after_errors=after_errors,
            tests=(tests_before, tests_after),
            regressions=regressions,
            leaks=leaks,
        )

    def _find_tests(self) -> tuple[tuple[str, ...], Path] | None:
        if self.tests_tree is None:
            return None
        user_cwd, tree_cwd = self.repo_root / self.cwd_in_repo, self.tests_tree / self.cwd_in_repo
        python = _localise(self.python, user_cwd, self.tests_tree)
        test_cmd = self.test_cmd
        if test_cmd:
            test_cmd = (_localise(test_cmd[0], user_cwd, tree_cwd), *test_cmd[1:])
        return find_test_command(
            self.tests_tree, python=python, cwd_in_repo=self.cwd_in_repo, test_cmd=test_cmd
        )

    def _run_both(
        self, tests: tuple[tuple[str, ...], Path] | None, command_key: str, tests_key: str
    ) -> tuple[Capture | str, TestRun | None]:
        """Run the command and the tests, side by side where Ctrl-C can still stop both."""
        if tests is None or not self.side_by_side:
            command = self._run_command(command_key)
            return command, self._run_tests(tests, tests_key) if tests is not None else None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracefix-tests") as pool:
            suite: Future[TestRun] = pool.submit(self._run_tests, tests, tests_key)
            try:
                command = self._run_command(command_key)
                test_run = suite.result()
            except BaseException:
                assert self.tests_tree is not None
                _kill_children_in(self.tests_tree)
                raise
        self.overlap += min(self.timings.get(command_key, 0.0), test_run.seconds)
        return command, test_run

    def _run_command(self, key: str) -> Capture | str:
        cwd = self.command_tree / self.cwd_in_repo
        argv = [_localise(self.argv[0], self.repo_root / self.cwd_in_repo, cwd), *self.argv[1:]]
        try:
            capture = run_captured(
                argv,
                cwd=cwd,
                project_root=self.command_tree,
                stream=False,
                env=_worktree_env(self.repo_root, self.command_tree, self.env),
                timeout=self.timeout,
            )
        except CommandNotFound as exc:
            return exc.message
        self.timings[key] = capture.seconds
        return capture

    def _run_tests(self, tests: tuple[tuple[str, ...], Path], key: str) -> TestRun:
        assert self.tests_tree is not None
        command, cwd = tests
        started = time.perf_counter()
        try:
            run = run_test_command(
                command,
                cwd=cwd,
                project_root=self.tests_tree,
                env=_worktree_env(self.repo_root, self.tests_tree, self.env),
                timeout=self.timeout,
            )
        except CommandNotFound as exc:
            run = TestRun(command, 127, {}, time.perf_counter() - started, exc.message)
        self.timings[key] = run.seconds
        return run


def _reproduces(capture: Capture, event: Event, repo_root: Path) -> tuple[bool, str]:
    """Whether ``capture`` holds ``event`` again: same exception type and trigger frame.

    The line is not compared: an event sent from a deployed copy may come from slightly older
    code, and file plus function already pin the place.
    """
    wanted = event.trigger_frame()
    for candidate in reversed(capture.events):
        if candidate.exception.type != event.exception.type:
            continue
        found = candidate.trigger_frame()
        if wanted is None or (
            found is not None
            and (found.filename, found.function) == (wanted.filename, wanted.function)
        ):
            return True, _describe(candidate)
    if not capture.events:
        said = _last_line(capture.stderr_tail)
        if capture.returncode == 0:
            return False, "the command exited 0 and raised no exception in a clean worktree"
        return False, (
            f"the command exited with {capture.returncode} but raised no Python exception"
            + (f" ({said})" if said else "")
        )
    if any(str(repo_root) in (f.abs_path or f.filename) for e in capture.events for f in e.frames):
        return False, (
            f"the command imported your code from {repo_root}, not from the clean worktree "
            "(an editable install without a src/ folder?)"
        )
    return False, f"it raised {_describe(capture.events[-1])} instead"


def _after_reason(after: Event, before: Event, left_out: Sequence[str]) -> str:
    """Why the fixed command failed: the same error again, or another one the fix got to.

    Another error, such as ``OperationalError: no such table``, may come from the worktree
    rather than the fix when local files were too big to copy into it: the reason names them.
    """
    if (after.exception.type, after.exception.first_line) == (
        before.exception.type,
        before.exception.first_line,
    ):
        return f"after the fix the command still raises {_describe(after)}"
    reason = (
        f"after the fix the command gets past that {before.exception.type} but raises "
        f"{_describe(after)}: {after.exception.first_line}"
    )
    if is_context_error(after.exception) or not left_out:
        return reason
    listed = ", ".join(left_out[:MAX_LISTED]) + (", ..." if len(left_out) > MAX_LISTED else "")
    return (
        f"{reason} (files git ignores in your tree were too big to copy into the worktree: "
        f"{listed}; does the command need them?)"
    )


def _describe(event: Event) -> str:
    """``RuntimeError at scripts/seed_db.py:5 in <module>``, with the thread when not main."""
    frame = event.trigger_frame() or (event.frames[-1] if event.frames else None)
    where = f" at {frame.filename}:{frame.lineno} in {frame.function}" if frame else ""
    thread = f" in thread {event.thread_name}" if event.in_thread else ""
    return f"{event.exception.type}{where}{thread}"


def _new_leaks(before: TestRun | None, after: TestRun | None) -> list[str]:
    """Leaks in tests that did not leak before; compared by test, as details hold addresses."""
    if after is None:
        return []
    old = {leak.split(": ", 1)[0] for leak in (before.leaks if before else ())}
    return [leak for leak in after.leaks if leak.split(": ", 1)[0] not in old]


def _not_reproduced(
    detail: str, problems: Sequence[str], tests_before: TestRun | None
) -> Verification:
    return Verification(
        verified=False,
        reasons=(f"did not reproduce: {detail}",),
        reproduced=False,
        reproduce_detail=detail,
        after_returncode=None,
        after_errors=(),
        tests_before=tests_before,
        tests_after=None,
        regressions=(),
        integrity_problems=tuple(problems),
        leaks=(),
        timings={},
    )


def _verdict(
    reasons: tuple[str, ...],
    detail: str,
    *,
    problems: Sequence[str],
    after: Capture | None = None,
    after_errors: tuple[str, ...] = (),
    tests: tuple[TestRun | None, TestRun | None] = (None, None),
    regressions: tuple[str, ...] = (),
    leaks: Sequence[str] = (),
) -> Verification:
    return Verification(
        verified=not reasons,
        reasons=reasons,
        reproduced=True,
        reproduce_detail=detail,
        after_returncode=after.returncode if after else None,
        after_errors=after_errors,
        tests_before=tests[0],
        tests_after=tests[1],
        regressions=regressions,
        integrity_problems=tuple(problems),
        leaks=tuple(leaks),
        timings={},
        after_stderr_tail=(
            _last_lines(after.stderr_tail, AFTER_TAIL_LINES) if after and after.failed else ""
        ),
    )


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])


def _worktree_env(
    repo_root: Path, tree: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (default: ours), with import paths into the user's tree moved into ``tree``.

    A project installed in editable mode imports from the user's tree through ``site-packages``;
    ``PYTHONPATH`` comes first, so naming the worktree's ``src/`` there shadows it. The capture
    hook moves the rest (a flat layout's ``.pth`` entry, setuptools' editable finder) once
    ``site`` has read them, told where by ``TRACEFIX_USER_TREE`` and ``TRACEFIX_WORKTREE``.
    """
    env = dict(os.environ if base is None else base)
    env["TRACEFIX_USER_TREE"] = os.path.realpath(repo_root)
    env["TRACEFIX_WORKTREE"] = os.path.realpath(tree)
    entries = [_moved(e, repo_root, tree) for e in env.get("PYTHONPATH", "").split(os.pathsep) if e]
    if (tree / "src").is_dir():
        entries.insert(0, str(tree / "src"))
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    return env


def _moved(entry: str, repo_root: Path, tree: Path) -> str:
    path = Path(entry)
    if path.is_absolute() and path.resolve().is_relative_to(repo_root):
        return str(tree / path.resolve().relative_to(repo_root))
    return entry


def _localise(program: str, user_cwd: Path, tree_cwd: Path) -> str:
    """``program`` for a run in the worktree: a relative path the worktree lacks (an ignored
    ``.venv/bin/python``) still names the user's file."""
    if os.sep not in program or os.path.isabs(program) or (tree_cwd / program).exists():
        return program
    users = user_cwd / program
    return str(users) if users.exists() else program


def _kill_children_in(tree: Path) -> None:
    """End the process groups we started whose working directory is inside ``tree``.

    The tests run in a worker thread, which Ctrl-C does not reach: without this the worktree
    would be removed under a test suite that keeps running until its time limit.
    """
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cwd = Path(os.readlink(entry / "cwd"))
        except (OSError, ValueError, IndexError):
            continue
        if parent == me and cwd.is_relative_to(tree):
            pid = int(entry.name)
            with contextlib.suppress(OSError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def _listed(tests: Sequence[str]) -> str:
    shown = ", ".join(tests[:MAX_LISTED])
    more = f" and {len(tests) - MAX_LISTED} more" if len(tests) > MAX_LISTED else ""
    plural = "s" if len(tests) != 1 else ""
    return f"{len(tests)} test{plural} that passed before: {shown}{more}"
