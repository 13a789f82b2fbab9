"""`make demo`: the whole loop on examples/seed-app, from a production error to a fix branch.

1. A throwaway copy of the example becomes a git repository with a bare remote beside it.
2. `tracefix serve` starts on its embedded defaults (SQLite in a temporary data directory,
   jobs in-process); a user and a project are created, the project pointing at the remote.
3. The example's seed script runs with `TRACEFIX_DSN` set, as cron would run it in
   production, and fails with "Working outside of application context."; the SDK sends it.
4. The server groups it into an issue, checks the remote out at the event's release,
   reproduces the failure, writes the fix, verifies it (the script again, the project's tests)
   and pushes the branch to the remote. The demo prints the dashboard's address and waits.

Nothing in examples/ changes; the temporary directory goes when the demo stops (Ctrl-C).
`--no-wait` stops as soon as the fix is delivered (for tests).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "seed-app"
COMMAND = ["python", "-m", "scripts.seed_db"]
EMAIL = "demo@tracefix.invalid"
FINAL = {"delivered", "verified", "unverified", "no_fix", "not_reproduced", "failed"}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=tracefix demo", "-c", "user.email=demo@tracefix.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def free_port(preferred: int = 8000) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise SystemExit("no free port")


def wait_for_port(port: int, server: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("tracefix serve exited; see its output above")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("tracefix serve did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-wait", action="store_true", help="stop once the fix is delivered")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="tracefix-demo-") as tmp:
        root = Path(tmp)
        work, remote = root / "seed-app", root / "seed-app.git"
        shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__", "instance"))
        git("init", "-q", "-b", "main", cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "seed-app", cwd=work)
        git("clone", "-q", "--bare", str(work), str(remote), cwd=root)
        git("remote", "add", "origin", str(remote), cwd=work)

        port = free_port()
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "TRACEFIX_DATA_DIR": str(root / "data"),
            "TRACEFIX_BIND": f"127.0.0.1:{port}",
        }
        for name in ("TRACEFIX_DATABASE_URL", "TRACEFIX_BROKER_URL", "TRACEFIX_DSN", "SENTRY_DSN"):
            env.pop(name, None)
        tracefix = [str(bin_dir / "tracefix")]
        password = secrets.token_urlsafe(12)
        subprocess.run(
            [*tracefix, "user", "create", EMAIL, "--admin", "--password-stdin"],
            input=password + "\n",
            env=env,
            check=True,
            text=True,
            capture_output=True,
        )
        dsn = subprocess.run(
            [
                *tracefix,
                "project",
                "create",
                "seed-app",
                "--repo",
                str(remote),
                "--python",
                sys.executable,
            ],
            env=env,
            check=True,
            text=True,
            capture_output=True,
        ).stdout.strip()
        server = subprocess.Popen([*tracefix, "serve"], env=env)
        try:
            wait_for_port(port, server)
            base = f"http://127.0.0.1:{port}"
            print(f"\ntracefix is serving on {base}; the project's DSN is {dsn}\n", flush=True)
            print(f"$ cd {work}\n$ TRACEFIX_DSN={dsn} {' '.join(COMMAND)}", flush=True)
            started = time.monotonic()
            subprocess.run(COMMAND, cwd=work, env={**env, "TRACEFIX_DSN": dsn})
            fix = wait_for_fix(root / "data")
            seconds = time.monotonic() - started
            print(f"\nthe server's fix attempt: {fix['state']} in {seconds:.1f} s from the error")
            if fix.get("branch"):
                print(f"the branch {fix['branch']} is on the remote {remote}:")
                print(git("log", "--oneline", "-1", str(fix["branch"]), cwd=remote))
            print(f"\nopen {base}/fixes/{fix['id']} and sign in as {EMAIL} / {password}")
            if args.no_wait:
                return 0 if fix["state"] == "delivered" else 1
            print("Ctrl-C stops the server and removes the demo's files.", flush=True)
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


def wait_for_fix(data_dir: Path, seconds: float = 180) -> dict[str, object]:
    """Read the server's database until the first fix attempt has finished."""
    from sqlalchemy import select

    from tracefix.server.db import Database
    from tracefix.server.models import Fix

    database = Database(f"sqlite:///{data_dir / 'tracefix.db'}")
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with database.session() as session:
                fix = session.scalars(select(Fix).where(Fix.state.in_(FINAL))).first()
                if fix is not None:
                    return {"id": fix.id, "state": fix.state, "branch": fix.branch}
            time.sleep(0.5)
    finally:
        database.dispose()
    raise SystemExit("no fix attempt finished in time")


if __name__ == "__main__":
    sys.exit(main())
