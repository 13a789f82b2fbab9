"""``tracefix serve`` as a user starts and stops it: Granian in front of the app.

A bad ``--bind`` or a taken port is a one-line error, not a backtrace; Ctrl-C (SIGINT to the
whole process group, as a terminal sends it) stops the server and its worker every time,
within Granian's kill timeout even when its worker gets stuck in its signal handler.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from .test_durability import _free_port
from .test_durability import _wait_until


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEFIX_")}
    env["TRACEFIX_DATA_DIR"] = str(data_dir)
    return env


def _serve(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracefix", "serve", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("bind", ["nowhere", "127.0.0.1:99999", ":8000"])
def test_a_bind_that_is_not_host_and_port_is_a_usage_error(tmp_path: Path, bind: str) -> None:
    done = _serve(tmp_path, "--bind", bind)
    assert done.returncode == 2
    assert "not HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--bind", f"127.0.0.1:{port}")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot listen on 127.0.0.1:{port}: Address already in use")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def _gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_stops_the_server_and_its_worker(tmp_path: Path) -> None:
    port = _free_port()
    for _ in range(3):
        process = subprocess.Popen(
            [sys.executable, "-m", "tracefix", "serve", "--bind", f"127.0.0.1:{port}"],
            env=_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            assert _wait_until(lambda: _listening(port), 60), process.stderr
            group = os.getpgid(process.pid)
            started = time.monotonic()
            os.killpg(group, signal.SIGINT)
            process.wait(30)
            assert _wait_until(partial(_gone, group), 30), "the worker outlived the server"
            assert time.monotonic() - started < 15
            assert not _listening(port)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            assert process.stderr is not None
            process.stderr.close()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRACEFIX_THREADS", "many", "TRACEFIX_THREADS must be a whole number above 0, not 'many'"),
        ("TRACEFIX_FIX_TIMEOUT", "-1", "TRACEFIX_FIX_TIMEOUT must be a number above 0, not '-1'"),
        (
            "TRACEFIX_DATABASE_URL",
            "mysql://shop:secret@db.invalid/shop",
            "cannot use the database mysql://shop:***@db.invalid/shop: No module named 'MySQLdb'",
        ),
        (
            "TRACEFIX_DATABASE_URL",
            "postgresql://postgres:secret@127.0.0.1:1/shop",
            "cannot use the database postgresql://postgres:***@127.0.0.1:1/shop: connection failed",
        ),
        ("TRACEFIX_DATA_DIR", "/proc/tracefix", "cannot use the data directory /proc/tracefix"),
    ],
)
@pytest.mark.parametrize("command", [("serve",), ("db", "upgrade"), ("project", "show", "shop")])
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, message: str, command: tuple[str, ...]
) -> None:
    env = {**_env(tmp_path), variable: value}
    done = subprocess.run(
        [sys.executable, "-m", "tracefix", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: {message}")
    assert "secret" not in line
