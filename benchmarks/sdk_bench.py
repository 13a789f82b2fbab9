"""What an error SDK costs a Flask app: no SDK, sentry-sdk with its defaults, and tracefix.

    python benchmarks/sdk_bench.py [--reps N] [--quick] [--write BENCHMARKS.md]

Every variant runs in its own process (each SDK patches the interpreter), in one session, with
the order rotated each repetition so machine noise falls on all of them; medians are reported.
Events go to a sink on 127.0.0.1 that accepts every POST and counts the event items of the
envelopes it receives. The app is the one of ../shared/docs/sdk-overhead-peers.md: `GET /`
returns a string, `GET /boom` raises ValueError; Flask's own traceback log handler is replaced
by a NullHandler in every variant (the logger still emits records, so logging hooks see them).

Measured: the success path in-process (`test_client`) and over HTTP (gunicorn, 1 sync worker,
`wrk -t1 -c2 -d5s`); the added cost of one captured Flask error; `capture_exception` in a plain
loop; events delivered when the sink is down for the whole burst and 10 s more; RSS growth over
many captures with the sink down.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

from _report import replace_section

VARIANTS = ("none", "sentry", "tracefix")
#: How long a process may take to deliver what it holds once the sink is back.
RECOVERY_SECONDS = 70.0

APP = textwrap.dedent(
    """
    import json
    import logging
    import os
    import tempfile

    from flask import Flask

    variant = os.environ["BENCH_VARIANT"]
    dsn = os.environ["BENCH_DSN"]
    if variant == "sentry":
        import sentry_sdk

        sentry_sdk.init(dsn=dsn)
    elif variant == "tracefix":
        import tracefix

        tracefix.init(
            dsn=dsn,
            spool_dir=os.environ.get("BENCH_SPOOL") or None,
            **json.loads(os.environ.get("BENCH_TRACEFIX_OPTIONS", "{}")),
        )

    app = Flask(__name__)
    app.logger.handlers[:] = [logging.NullHandler()]
    app.logger.propagate = False


    @app.get("/")
    def index():
        return "hello"


    @app.get("/boom")
    def boom():
        local_value = {"user_id": 42, "items": list(range(10))}
        raise ValueError(f"boom {local_value['user_id']}")
    """
)

CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, time
    sys.path.insert(0, os.environ["BENCH_DIR"])
    from bench_app import app, variant

    mode, n = sys.argv[1], int(sys.argv[2])
    client = app.test_client()

    def rss_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def capture(error):
        if variant == "sentry":
            import sentry_sdk
            sentry_sdk.capture_exception(error)
        elif variant == "tracefix":
            import tracefix
            tracefix.capture_exception(error)

    def flush(timeout):
        if variant == "sentry":
            import sentry_sdk
            sentry_sdk.flush(timeout)
        elif variant == "tracefix":
            import tracefix
            tracefix.flush(timeout)

    result = {}
    if mode in ("success", "error"):
        path = "/" if mode == "success" else "/boom"
        warm_up = min(200, n)
        for _ in range(warm_up):
            client.get(path)
        result["requests"] = warm_up + n
        start = time.perf_counter()
        for _ in range(n):
            client.get(path)
        result["seconds"] = time.perf_counter() - start
        flush(10)
    elif mode == "loop":
        def fail(i):
            local_value = {"i": i}
            raise ValueError(local_value)
        start = time.perf_counter()
        for i in range(n):
            try:
                fail(i)
            except ValueError as error:
                capture(error)
        result["seconds"] = time.perf_counter() - start
        flush(10)
        result["flush_seconds"] = time.perf_counter() - start - result["seconds"]
    elif mode == "outage":
        for _ in range(n):
            client.get("/boom")
        print("BURST-DONE", flush=True)
        sys.stdin.readline()  # the sink is up again: live on, as a server would
        sys.stdin.readline()  # the parent has seen enough
        flush(2)
    elif mode == "memory":
        def fail(i):
            raise ValueError(i)
        before = rss_kib()
        for i in range(n):
            try:
                fail(i)
            except ValueError as error:
                capture(error)
        result["rss_before_kib"], result["rss_after_kib"] = before, rss_kib()
    print("RESULT " + json.dumps(result), flush=True)
    """
)


class Sink:
    """A loopback HTTP server that accepts every POST and counts envelope event items."""

    def __init__(self, port: int = 0) -> None:
        self.events = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802
                body = decode(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))),
                    self.headers.get("Content-Encoding"),
                )
                count = count_events(body, self.path)
                with sink.lock:
                    sink.events += count
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def decode(body: bytes, encoding: str | None) -> bytes:
    """The body as sent: sentry-sdk compresses with brotli when the ``brotli`` package is
    installed, gzip otherwise; tracefix with gzip."""
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli  # the sender had it: it is installed

        return bytes(brotli.decompress(body))
    return body


def count_events(body: bytes, path: str) -> int:
    """Event items in an envelope (develop.sentry.dev/sdk/data-model/envelopes/), or 1 for a
    plain event sent to /store/."""
    if path.rstrip("/").endswith("/store"):
        return 1
    events, position = 0, body.find(b"\n") + 1  # past the envelope header
    while 0 < position < len(body):
        end = body.find(b"\n", position)
        end = len(body) if end < 0 else end
        header = json.loads(body[position:end] or b"{}")
        events += header.get("type") == "event"
        start = end + 1
        if "length" in header:
            position = start + int(header["length"]) + 1
        else:
            following = body.find(b"\n", start)
            position = len(body) if following < 0 else following + 1
    return events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dsn(port: int) -> str:
    return f"http://publickey@127.0.0.1:{port}/1"


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "bench_app.py").write_text(APP)
        (workdir / "bench_child.py").write_text(CHILD)

    def env(self, variant: str, port: int, spool: str = "") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "TRACEFIX_"))}
        env.update(BENCH_VARIANT=variant, BENCH_DSN=dsn(port), BENCH_DIR=str(self.workdir))
        env["BENCH_SPOOL"] = spool or tempfile.mkdtemp(prefix="spool-", dir=self.workdir)
        return env

    def child(self, variant: str, mode: str, n: int, port: int) -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, str(self.workdir / "bench_child.py"), mode, str(n)],
            env=self.env(variant, port),
            capture_output=True,
            text=True,
            timeout=900,
        )
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise SystemExit(f"{variant} {mode} failed:\n{out.stdout}\n{out.stderr}")

    def wrk(self, variant: str, path: str, port: int, seconds: int) -> float:
        app_port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{app_port}",
                "--chdir",
                str(self.workdir),
                "bench_app:app",
            ],
            env=self.env(variant, port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", app_port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            out = subprocess.run(
                ["wrk", "-t1", "-c2", f"-d{seconds}s", f"http://127.0.0.1:{app_port}{path}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            return float(
                next(line for line in out.splitlines() if "Requests/sec" in line).split()[1]
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    def outage(self, variant: str, n: int, down_seconds: float) -> tuple[int, float]:
        """Events delivered once the sink is back, and how long after it came back the last
        one arrived; the process lives on for up to ``RECOVERY_SECONDS``, as a server would."""
        port = free_port()
        child = subprocess.Popen(
            [sys.executable, str(self.workdir / "bench_child.py"), "outage", str(n)],
            env=self.env(variant, port),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        for line in child.stdout:
            if line.startswith("BURST-DONE"):
                break
        time.sleep(down_seconds)
        sink = Sink(port)
        back = time.monotonic()
        child.stdin.write("up\n")
        child.stdin.flush()
        last_arrival, seen = back, 0
        while time.monotonic() - back < RECOVERY_SECONDS and sink.events < n:
            if sink.events != seen:
                seen, last_arrival = sink.events, time.monotonic()
            time.sleep(0.1)
        if sink.events != seen:
            last_arrival = time.monotonic()
        child.stdin.write("exit\n")
        child.stdin.flush()
        child.wait(timeout=60)
        sink.stop()
        return sink.events, last_arrival - back


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    n_success, n_error, n_loop, n_memory = (
        (2000, 300, 300, 5000) if args.quick else (20000, 2000, 2000, 100000)
    )
    wrk_seconds = 2 if args.quick else 5
    has_wrk = shutil.which("wrk") is not None
    rows: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    delivered: dict[str, list[int]] = {v: [] for v in VARIANTS}
    raised = dict.fromkeys(VARIANTS, 0)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sdk-bench-") as tmp:
        bench = Bench(Path(tmp))
        sink = Sink()
        for rep in range(args.reps):
            order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
            for variant in order:
                r = rows[variant]
                before = sink.events
                t = bench.child(variant, "success", n_success, sink.port)["seconds"]
                r.setdefault("success_rps", []).append(n_success / t)
                error_run = bench.child(variant, "error", n_error, sink.port)
                r.setdefault("error_us", []).append(error_run["seconds"] / n_error * 1e6)
                delivered[variant].append(sink.events - before)
                raised[variant] += int(error_run["requests"])
                before = sink.events
                loop_run = bench.child(variant, "loop", n_loop, sink.port)
                r.setdefault("loop_us", []).append(loop_run["seconds"] / n_loop * 1e6)
                r.setdefault("loop_flush_ms", []).append(loop_run["flush_seconds"] * 1e3)
                r.setdefault("loop_delivered", []).append(sink.events - before)
                if has_wrk:
                    r.setdefault("http_rps", []).append(
                        bench.wrk(variant, "/", sink.port, wrk_seconds)
                    )
        sink.stop()
        for variant in VARIANTS[1:]:
            arrived, after = bench.outage(variant, 1000, 3 if args.quick else 10)
            rows[variant]["outage_delivered"] = [float(arrived)]
            rows[variant]["outage_seconds"] = [after]
            closed = free_port()
            m = bench.child(variant, "memory", n_memory, closed)
            rows[variant]["rss_growth_mib"] = [(m["rss_after_kib"] - m["rss_before_kib"]) / 1024]
    text = render(
        rows,
        delivered,
        raised,
        args,
        n_success,
        n_error,
        n_loop,
        n_memory,
        has_wrk,
        time.monotonic() - started,
    )
    print(text)
    if args.write:
        replace_section(args.write, "## SDK overhead", text)
    return 0


def render(
    rows, delivered, raised, args, n_success, n_error, n_loop, n_memory, has_wrk, seconds
) -> str:
    none, sentry, ours = (rows[v] for v in VARIANTS)
    base_error = median(none["error_us"])

    def ratio(variant_rows: dict[str, list[float]], key: str) -> str:
        value = median(variant_rows[key])
        return f"{value:,.0f} ({value / median(none[key]):.2f})"

    def added(variant_rows: dict[str, list[float]]) -> str:
        return f"+{median(variant_rows['error_us']) - base_error:,.0f} µs"

    quick = " --quick" if args.quick else ""
    lines = [
        "## SDK overhead",
        "",
        f"Command: `python benchmarks/sdk_bench.py --reps {args.reps}{quick}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.reps} repetitions, variants in rotating "
        f"order, medians; {seconds:.0f} s in all.",
        "",
        "| measure | none | sentry-sdk (defaults) | tracefix | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| success path in-process, `test_client` GET / (N={n_success:,}), req/s (ratio) | "
        f"{median(none['success_rps']):,.0f} (1.00) | {ratio(sentry, 'success_rps')} | "
        f"{ratio(ours, 'success_rps')} | ≥ 0.98 |",
    ]
    if has_wrk:
        lines.append(
            "| success path over HTTP, gunicorn 1 sync worker + `wrk -t1 -c2`, req/s (ratio) | "
            f"{median(none['http_rps']):,.0f} (1.00) | {ratio(sentry, 'http_rps')} | "
            f"{ratio(ours, 'http_rps')} | ≥ 0.98 |"
        )
    lines += [
        f"| a captured Flask error, in-process GET /boom (N={n_error:,}): added per error | "
        f"0 ({base_error:,.0f} µs/req) | {added(sentry)} | {added(ours)} | ≤ 500 µs |",
        f"| events delivered of the errors above (all repetitions) | – | "
        f"{sum(delivered['sentry']):,}/{raised['sentry']:,} | "
        f"{sum(delivered['tracefix']):,}/{raised['tracefix']:,} | all |",
        f"| `capture_exception` in a plain loop (N={n_loop:,}), µs per capture | "
        f"{median(none['loop_us']):.1f} (raise/catch only) | {median(sentry['loop_us']):,.0f} | "
        f"{median(ours['loop_us']):,.0f} | ≤ 100 µs |",
        f"| 1,000 errors while the sink is down, then down {3 if args.quick else 10} s more: "
        "events delivered after it is back | – | "
        f"{median(sentry['outage_delivered']):,.0f} | "
        f"{median(ours['outage_delivered']):,.0f} (the last {median(ours['outage_seconds']):.0f} s "
        "after) | 1,000 |",
        f"| RSS growth over {n_memory:,} captures with the sink down | – | "
        f"{median(sentry['rss_growth_mib']):+.1f} MiB | "
        f"{median(ours['rss_growth_mib']):+.1f} MiB | flat |",
    ]
    if not has_wrk:
        lines.append("\n(`wrk` is not installed: the HTTP row was skipped.)")
    notes = (
        'How to read it: "added per error" is the median per-request time minus the no-SDK '
        "median, in-process (it includes the SDK thread's share of the GIL). In the "
        "`capture_exception` loop tracefix builds, scrubs and serialises each event on the app's "
        "thread and copies it into its journal, a memory-mapped file (no system call, so no GIL "
        "hand-off to its sending thread); the thread sends what it gets the GIL for during the "
        "loop, and the rest in the `flush` that follows, which is not timed: it took "
        f"{median(ours['loop_flush_ms']):,.0f} ms (median) and delivered "
        f"{median(ours['loop_delivered']):,.0f} of {n_loop:,} events per run. sentry-sdk drops "
        "what overflows its queue (and counts it) instead of keeping it: it delivered "
        f"{median(sentry['loop_delivered']):,.0f}. In the outage row the process lives on after "
        f"the sink is back, as a server would, for up to {RECOVERY_SECONDS:.0f} s; sentry-sdk "
        "does not retry."
    )
    spread = (
        "The machine is shared: the no-SDK variant alone ranged over "
        f"{min(none['success_rps']):,.0f}-{max(none['success_rps']):,.0f} req/s in-process"
        + (
            f" and {min(none['http_rps']):,.0f}-{max(none['http_rps']):,.0f} req/s over HTTP"
            if has_wrk
            else ""
        )
        + f" across the {args.reps} repetitions."
    )
    lines += ["", textwrap.fill(notes + " " + spread, 100, break_on_hyphens=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
