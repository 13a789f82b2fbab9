"""Time from a production error to its pull request: the whole loop of the server, on the example.

    python benchmarks/loop_bench.py [--runs N] [--write BENCHMARKS.md]

Each run sets up what `make demo` does, from scratch: a git copy of examples/seed-app and its
bare remote, a new data directory, `tracefix serve` on its embedded defaults (SQLite, in-process
jobs), and a project created with `tracefix project create --forge gitea` whose forge is a
loopback server following Gitea's REST API (tests/deliver/forges/fake_gitea.py: no forge runs
on this machine), told the branches of the bare remote. Set-up is not timed. Then the example's
failing script runs with `TRACEFIX_DSN` set, and the clock runs until the pull request is open
on the forge. Timestamps of the event (`received_at`) and of the fix attempt (`created_at`)
come from the server's database, and split the time into: the script until the event is
stored, the wait until the fix job starts, and the fix job (check-out, environment, diagnosis,
codemod, verification with the project's tests before and after, push, pull request).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import replace_section

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "seed-app"
COMMAND = ["python", "-m", "scripts.seed_db"]
FINAL = {"delivered", "verified", "unverified", "no_fix", "not_reproduced", "failed"}
TOKEN = "bench-forge-token"
TARGET_SECONDS = 30.0

sys.path.insert(0, str(ROOT / "tests" / "deliver" / "forges"))
from fake_forge import RemoteBranches  # noqa: E402
from fake_gitea import FakeGitea  # noqa: E402


def git(*args: str, cwd: Path) -> None:
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@tracefix.invalid"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def utc_now() -> dt.datetime:
    """As the server stores its timestamps: naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def one_run(parent: Path) -> dict[str, float]:
    work, remote = parent / "seed-app", parent / "seed-app.git"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__", "instance"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "seed-app", cwd=work)
    git("clone", "-q", "--bare", str(work), str(remote), cwd=parent)

    bin_dir = Path(sys.executable).parent
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TRACEFIX_DATABASE_URL", "TRACEFIX_BROKER_URL", "TRACEFIX_DSN", "SENTRY_DSN")
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        TRACEFIX_DATA_DIR=str(parent / "data"),
        TRACEFIX_BIND=f"127.0.0.1:{port}",
        BENCH_FORGE_TOKEN=TOKEN,
    )
    with FakeGitea(TOKEN) as forge:
        repository = forge.add_repository("acme", "seed-app", {})
        repository.branches = RemoteBranches(remote)
        dsn = subprocess.run(
            [
                str(bin_dir / "tracefix"),
                "project",
                "create",
                "seed-app",
                "--repo",
                str(remote),
                "--python",
                sys.executable,
                "--forge",
                "gitea",
                "--forge-url",
                "https://codeberg.example/acme/seed-app.git",
                "--forge-api-url",
                f"{forge.url}/api/v1",
                "--token-env",
                "BENCH_FORGE_TOKEN",
            ],
            env=env,
            check=True,
            text=True,
            capture_output=True,
        ).stdout.strip()
        server = subprocess.Popen(
            [str(bin_dir / "tracefix"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            started_wall, started = utc_now(), time.monotonic()
            subprocess.run(COMMAND, cwd=work, env={**env, "TRACEFIX_DSN": dsn}, capture_output=True)
            command_seconds = time.monotonic() - started
            while not repository.pulls:
                if time.monotonic() - started > 300:
                    raise SystemExit("no pull request within 300 s")
                time.sleep(0.02)
            total = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(30)
    received, fix_created, state = server_timestamps(parent / "data")
    if state != "delivered":
        raise SystemExit(f"the fix attempt ended {state}")
    to_event = (received - started_wall).total_seconds()
    to_fix = (fix_created - started_wall).total_seconds()
    return {
        "total": total,
        "command": command_seconds,
        "event stored": to_event,
        "wait for the fix job": to_fix - to_event,
        "fix job, to the pull request": total - to_fix,
        "from the event stored": total - to_event,
    }


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("tracefix serve did not start")


def server_timestamps(data_dir: Path) -> tuple[dt.datetime, dt.datetime, str]:
    from sqlalchemy import select

    from tracefix.server.db import Database
    from tracefix.server.models import Event
    from tracefix.server.models import Fix

    database = Database(f"sqlite:///{data_dir / 'tracefix.db'}")
    try:
        with database.session() as session:
            received = session.scalars(select(Event.received_at).order_by(Event.id)).first()
            fix = session.scalars(select(Fix).order_by(Fix.id)).first()
            if received is None or fix is None:
                raise SystemExit("the server recorded no event or no fix attempt")
            return received, fix.created_at, fix.state
    finally:
        database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    began = time.monotonic()
    runs = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix=f"loop-bench-{index}-") as tmp:
            runs.append(one_run(Path(tmp)))
    text = render(runs, args.runs, time.monotonic() - began)
    print(text)
    if args.write:
        replace_section(args.write, "## From a production error to its pull request", text)
    return 0


def render(runs: list[dict[str, float]], n: int, seconds: float) -> str:
    def cell(key: str) -> str:
        values = [run[key] for run in runs]
        return f"{statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f}"

    load = os.getloadavg()[0]
    total = statistics.median(run["total"] for run in runs)
    verdict = "met" if total < TARGET_SECONDS else "**not met**"
    lines = [
        "## From a production error to its pull request",
        "",
        f"Command: `python benchmarks/loop_bench.py --runs {n}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {n} runs, median (min–max), seconds; load average "
        f"{load:.1f} at the end; {seconds:.0f} s in all.",
        "",
        "| from the failing script's start | median | min | max |",
        "| --- | ---: | ---: | ---: |",
        f"| **to the pull request, open on the forge** | {cell('total')} |",
        f"| the script runs, fails, its event is stored | {cell('event stored')} |",
        f"| then the fix job starts | {cell('wait for the fix job')} |",
        f"| then the fix job, to the pull request | {cell('fix job, to the pull request')} |",
        f"| (the script's own process, exit included) | {cell('command')} |",
        f"| from the event stored to the pull request | {cell('from the event stored')} |",
        "",
        f"Target: under {TARGET_SECONDS:.0f} s from the first event to the pull request: "
        f"{total:.1f} s, {verdict}. For scale (not measured here): bugstack claims under 2 "
        "minutes from error to pull request; Meta's SapFix took a median of 69 minutes.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
