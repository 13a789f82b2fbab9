"""What an error SDK costs a Flask app: no SDK, sentry-sdk with its defaults, and tracefix.

    python benchmarks/sdk_bench.py [--reps N] [--quick] [--write BENCHMARKS.md]

Every variant runs in its own process (each SDK patches the interpreter), in one session, with
the order rotated each repetition so machine noise falls on all of them; medians are reported.
Events go to a sink on 127.0.0.1 that accepts every POST and counts the event items of the
envelopes it receives. The app is the one of ../shared/docs/sdk-overhead-peers.md: `GET /`
returns a string, `GET /boom` raises ValueError; Flask's own traceback log handler is replaced
by a NullHandler in every variant (the logger still emits records, so logging hooks see them).

Every app process runs on one core (``APP_CPU``), the load generator on the other.

Measured: the success path in-process (`test_client`) and over HTTP (gunicorn, 1 sync worker,
`wrk -t1 -c2`), in interleaved slices (a process per variant kept alive, asked in turn, so that
a slice is compared with its neighbours of the same round: on this shared machine the no-SDK
rate alone moves by a third from one minute to the next); the instructions per request of the
success and error paths, counted by callgrind when valgrind is installed (independent of the
load); the added cost of one captured Flask error; `capture_exception` in a plain loop; events
delivered when the sink is down for the whole burst and 10 s more; RSS growth over many
captures with the sink down.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import re
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
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

from _report import replace_section

VARIANTS = ("none", "sentry", "tracefix")
#: The core every variant's app process runs on, the load generator on the others: on a shared
#: machine one core can be busier than the other for minutes (a neighbour on its sibling
#: thread), and a variant left on it would pay for that.
APP_CPU = max(os.sched_getaffinity(0))
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
    if mode == "slices":
        # Kept alive by the parent, which asks for one slice of requests at a time from each
        # variant in turn: neighbouring slices see the same machine.
        path = sys.argv[3]
        for _ in range(n):
            client.get(path)
        print("READY", flush=True)
        for line in sys.stdin:
            count = int(line)
            start = time.perf_counter()
            for _ in range(count):
                client.get(path)
            print(f"SLICE {time.perf_counter() - start}", flush=True)
        sys.exit(0)
    if mode == "count":
        # Run under callgrind by the parent, once with n = 0: the difference is n requests.
        path = sys.argv[3]
        for _ in range(50):
            client.get(path)
        for _ in range(n):
            client.get(path)
        flush(30)
        sys.exit(0)
    if mode == "error":
        path = "/boom"
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
            preexec_fn=on_app_cpu,
            capture_output=True,
            text=True,
            timeout=900,
        )
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise SystemExit(f"{variant} {mode} failed:\n{out.stdout}\n{out.stderr}")

    def interleaved(
        self, path: str, rounds: int, slice_n: int, port: int
    ) -> dict[str, list[float]]:
        """Requests per second in-process, slice by slice: one process per variant, kept alive,
        each asked in turn (rotating order) for ``slice_n`` requests, so that the slices
        compared with each other ran seconds apart on the same machine."""
        script = str(self.workdir / "bench_child.py")
        children = {
            variant: subprocess.Popen(
                [sys.executable, script, "slices", "500", path],
                env=self.env(variant, port),
                preexec_fn=on_app_cpu,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for variant in VARIANTS
        }
        try:
            for child in children.values():
                assert child.stdout is not None
                if child.stdout.readline().strip() != "READY":
                    raise SystemExit("a benchmark child did not start")
            rps: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
            for turn in range(rounds):
                for variant in rotated(turn):
                    child = children[variant]
                    assert child.stdin is not None and child.stdout is not None
                    child.stdin.write(f"{slice_n}\n")
                    child.stdin.flush()
                    seconds = float(child.stdout.readline().split()[1])
                    rps[variant].append(slice_n / seconds)
            return rps
        finally:
            for child in children.values():
                child.stdin.close()  # type: ignore[union-attr]
                child.wait(timeout=60)

    def interleaved_http(
        self, path: str, rounds: int, seconds: int, port: int
    ) -> dict[str, list[float]]:
        """Requests per second over HTTP, as ``interleaved``: one gunicorn per variant, all
        started first, then ``wrk`` against each in turn (an idle server costs the others
        nothing)."""
        with contextlib.ExitStack() as stack:
            ports = {
                variant: stack.enter_context(self.gunicorn(variant, port)) for variant in VARIANTS
            }
            rps: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
            for turn in range(rounds):
                for variant in rotated(turn):
                    rps[variant].append(wrk(ports[variant], path, seconds))
            return rps

    @contextlib.contextmanager
    def gunicorn(self, variant: str, port: int) -> Iterator[int]:
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
            preexec_fn=on_app_cpu,
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
            yield app_port
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    def instructions(self, variant: str, path: str, n: int, port: int) -> float:
        """Instructions per request, every thread of the process counted by callgrind: the
        count of ``n`` requests (and the flush of what they captured) minus the count of none.
        Unlike a rate, it does not move with what else the machine runs."""
        totals = []
        for count in (0, n):
            out = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--callgrind-out-file=/dev/null",
                    sys.executable,
                    str(self.workdir / "bench_child.py"),
                    "count",
                    str(count),
                    path,
                ],
                env={**self.env(variant, port), "PYTHONHASHSEED": "0"},
                capture_output=True,
                text=True,
                timeout=1800,
            )
            collected = re.search(r"Collected : (\d+)", out.stderr)
            if collected is None:
                raise SystemExit(f"callgrind failed for {variant}:\n{out.stderr[-2000:]}")
            totals.append(int(collected.group(1)))
        return (totals[1] - totals[0]) / n

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


def on_app_cpu() -> None:
    os.sched_setaffinity(0, {APP_CPU})


def off_app_cpu() -> None:
    os.sched_setaffinity(0, (os.sched_getaffinity(0) - {APP_CPU}) or {APP_CPU})


def rotated(turn: int) -> tuple[str, ...]:
    return VARIANTS[turn % 3 :] + VARIANTS[: turn % 3]


def wrk(app_port: int, path: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c2", f"-d{seconds}s", f"http://127.0.0.1:{app_port}{path}"],
        preexec_fn=off_app_cpu,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[1])


def paired_ratios(rps: dict[str, list[float]], variant: str) -> list[float]:
    """The variant's rate over the no-SDK rate of the same round, round by round."""
    return [ours / none for ours, none in zip(rps[variant], rps["none"], strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    n_slice, n_error, n_loop, n_memory, n_count = (
        (300, 300, 300, 5000, 200) if args.quick else (2000, 2000, 2000, 100000, 1000)
    )
    wrk_seconds = 1 if args.quick else 2
    has_wrk = shutil.which("wrk") is not None
    has_valgrind = shutil.which("valgrind") is not None
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
                error_run = bench.child(variant, "error", n_error, sink.port)
                r.setdefault("error_us", []).append(error_run["seconds"] / n_error * 1e6)
                delivered[variant].append(sink.events - before)
                raised[variant] += int(error_run["requests"])
                before = sink.events
                loop_run = bench.child(variant, "loop", n_loop, sink.port)
                r.setdefault("loop_us", []).append(loop_run["seconds"] / n_loop * 1e6)
                r.setdefault("loop_flush_ms", []).append(loop_run["flush_seconds"] * 1e3)
                r.setdefault("loop_delivered", []).append(sink.events - before)
        success = bench.interleaved("/", 10 * args.reps, n_slice, sink.port)
        http = bench.interleaved_http("/", 3 * args.reps, wrk_seconds, sink.port) if has_wrk else {}
        instructions = {
            variant: (
                bench.instructions(variant, "/", n_count, sink.port),
                bench.instructions(variant, "/boom", n_count // 10, sink.port),
            )
            for variant in VARIANTS
            if has_valgrind
        }
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
        Rates(success, http, instructions),
        delivered,
        raised,
        args,
        Sizes(n_slice, n_error, n_loop, n_memory, n_count, wrk_seconds),
        time.monotonic() - started,
    )
    print(text)
    if args.write:
        replace_section(args.write, "## SDK overhead", text)
    return 0


@dataclass
class Rates:
    """The success path's rates, slice by slice (``interleaved``), and the instruction counts
    per request of GET / and GET /boom, per variant (empty without valgrind)."""

    success: dict[str, list[float]]
    http: dict[str, list[float]]
    instructions: dict[str, tuple[float, float]]


@dataclass
class Sizes:
    slice: int
    error: int
    loop: int
    memory: int
    count: int
    wrk_seconds: int


def render(rows, rates, delivered, raised, args, n, seconds) -> str:
    none, sentry, ours = (rows[v] for v in VARIANTS)
    base_error = median(none["error_us"])

    def paired(rps: dict[str, list[float]], variant: str) -> str:
        if variant == "none":
            return f"{median(rps['none']):,.0f} (1.00)"
        return f"{median(rps[variant]):,.0f} ({median(paired_ratios(rps, variant)):.2f})"

    def rate_row(title: str, rps: dict[str, list[float]]) -> str:
        return f"| {title} | " + " | ".join(paired(rps, v) for v in VARIANTS) + " | ≥ 0.98 |"

    def added(variant_rows: dict[str, list[float]]) -> str:
        return f"{median(variant_rows['error_us']) - base_error:+,.0f} µs"

    def instruction_row(title: str, which: int) -> str:
        base = rates.instructions["none"][which]
        cells = [f"{base / 1000:,.0f}k"] + [
            f"{rates.instructions[v][which] / 1000:,.0f}k "
            f"({(rates.instructions[v][which] - base) / 1000:+,.0f}k)"
            for v in VARIANTS[1:]
        ]
        return f"| {title} | " + " | ".join(cells) + " | +0 on GET / |"

    quick = " --quick" if args.quick else ""
    rounds = 10 * args.reps
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
        rate_row(
            f"success path in-process, `test_client` GET /, {rounds} rounds of "
            f"{n.slice:,} requests, req/s (ratio)",
            rates.success,
        ),
    ]
    if rates.http:
        lines.append(
            rate_row(
                "success path over HTTP, gunicorn 1 sync worker + `wrk -t1 -c2`, "
                f"{3 * args.reps} rounds of {n.wrk_seconds} s, req/s (ratio)",
                rates.http,
            )
        )
    if rates.instructions:
        lines.append(
            instruction_row(f"instructions per request, GET / (callgrind, {n.count:,} requests)", 0)
        )
    lines += [
        f"| a captured Flask error, in-process GET /boom (N={n.error:,}): added per error | "
        f"0 ({base_error:,.0f} µs/req) | {added(sentry)} | {added(ours)} | ≤ 500 µs |",
    ]
    if rates.instructions:
        lines.append(
            instruction_row(
                f"instructions per request, GET /boom (callgrind, {n.count // 10:,} requests, "
                "the SDK's thread and flush included)",
                1,
            ).replace("+0 on GET / ", "")
        )
    lines += [
        f"| events delivered of the errors above (all repetitions) | – | "
        f"{sum(delivered['sentry']):,}/{raised['sentry']:,} | "
        f"{sum(delivered['tracefix']):,}/{raised['tracefix']:,} | all |",
        f"| `capture_exception` in a plain loop (N={n.loop:,}), µs per capture | "
        f"{median(none['loop_us']):.1f} (raise/catch only) | {median(sentry['loop_us']):,.0f} | "
        f"{median(ours['loop_us']):,.0f} | ≤ 100 µs |",
        f"| 1,000 errors while the sink is down, then down {3 if args.quick else 10} s more: "
        "events delivered after it is back | – | "
        f"{median(sentry['outage_delivered']):,.0f} | "
        f"{median(ours['outage_delivered']):,.0f} (the last {median(ours['outage_seconds']):.0f} s "
        "after) | 1,000 |",
        f"| RSS growth over {n.memory:,} captures with the sink down | – | "
        f"{median(sentry['rss_growth_mib']):+.1f} MiB | "
        f"{median(ours['rss_growth_mib']):+.1f} MiB | flat |",
    ]
    if not rates.http:
        lines.append("\n(`wrk` is not installed: the HTTP row was skipped.)")
    notes = (
        "How to read it: the success-path rates come from long-lived processes, one per "
        "variant, asked in turn for one slice of requests each round; the ratio is the median "
        "over rounds of the variant's rate over the no-SDK rate of the same round, so that "
        "the machine's drift falls on both; every variant's app process runs on the same core "
        "(the load generator on the other). The instruction counts do not depend on the "
        "machine's load at all. "
        '"Added per error" is the median per-request time minus the no-SDK '
        "median, in-process (it includes the SDK thread's share of the GIL). In the "
        "`capture_exception` loop tracefix builds, scrubs and serialises each event on the app's "
        "thread and copies it into its journal, a memory-mapped file (no system call, so no GIL "
        "hand-off to its sending thread); the thread sends what it gets the GIL for during the "
        "loop, and the rest in the `flush` that follows, which is not timed: it took "
        f"{median(ours['loop_flush_ms']):,.0f} ms (median) and delivered "
        f"{median(ours['loop_delivered']):,.0f} of {n.loop:,} events per run. sentry-sdk drops "
        "what overflows its queue (and counts it) instead of keeping it: it delivered "
        f"{median(sentry['loop_delivered']):,.0f}. In the outage row the process lives on after "
        f"the sink is back, as a server would, for up to {RECOVERY_SECONDS:.0f} s; sentry-sdk "
        "does not retry."
    )
    spread = (
        "The machine is shared: the no-SDK variant alone ranged over "
        f"{min(rates.success['none']):,.0f}-{max(rates.success['none']):,.0f} req/s in-process"
        + (
            f" and {min(rates.http['none']):,.0f}-{max(rates.http['none']):,.0f} req/s over HTTP"
            if rates.http
            else ""
        )
        + " across the rounds."
    )
    lines += ["", textwrap.fill(notes + " " + spread, 100, break_on_hyphens=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
