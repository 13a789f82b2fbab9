"""Server ingest under load: tracefix (SQLite, PostgreSQL) and Bugsink 2.6 side by side.

    python benchmarks/ingest_bench.py [--reps N] [--quick] [--baseline REV] [--write BENCHMARKS.md]

What is sent: real error events, captured by sentry-sdk from a small Flask shop (four errors,
each raised three or four in-app frames deep, with locals), serialised by sentry-sdk's own
``Envelope.serialize()`` through a transport that records the bytes instead of sending them.
Four fingerprints, two variants each (other arguments, other locals); every request carries a
fresh ``event_id`` (both servers drop a repeated one), in the envelope header and in the event.
The bodies go uncompressed (what ``serialize()`` gives; sentry-sdk's HTTP transport would gzip
them, which only adds a gunzip on the server for both).

The load generator is ``wrk`` with a Lua script (``request()`` puts a new event id into the
template, ``response()`` counts the answers by status, ``--latency`` keeps the percentiles).
It is C, one event-loop thread: about 20 µs of CPU a request here, body assembly included (a
``gsub`` over the 8 KiB body cost five times that; the template is split at the id once), so
on this 2-core machine it takes a few percent of one core, measured and reported with each run.
A Python client would spend its interpreter's time on every request (building, sending,
parsing) on the same two cores, and its GIL would add its own wait to the latency it reports.
K keep-alive connections each send the next request as soon as the previous one is answered
(a closed loop: latency is per request, acknowledge included).

Each run (one system, one K) starts the server from scratch on an empty database: tracefix's
``tracefix serve`` (Granian, 1 worker process, its defaults) on SQLite in a temporary data
directory, or on a new PostgreSQL database; Bugsink as in its single-server guide (``bugsink-
create-conf --template=singleserver``, both SQLite databases migrated, gunicorn in front of
``bugsink.wsgi`` with 2 workers as its own Docker gunicorn config gives 2 cores, the ``snappea``
worker with its template's 4 digest threads), with these changes: plain HTTP on loopback
(no proxy in front), no phone-home, its event quotas (1,000 per 5 minutes per project by
default) and the project's retention (10,000 events) raised so that nothing is refused or
evicted, as for tracefix.

Measured per run, over ``--seconds`` of load (30, or 5 with ``--quick``): events acknowledged
per second (answers ``200``), the p99 acknowledge latency (wrk's), events stored *and grouped*
per second end to end (from the first request until every acknowledged event is in an issue,
polled in the server's own database: tracefix's ``event.issue_id``, Bugsink's project
``digested_event_count``, which its digest raises in the transaction that files the event in
its issue), and the peak RSS of the server's process tree (tracefix's server and worker processes;
Bugsink's gunicorn master and workers, and its snappea; sampled from /proc every 0.2 s; the
PostgreSQL server itself is not counted).

Durability, tracefix only: load from 8 client threads, then ``kill -9`` of the server process
and its worker at once; restarted on the same database, every event id that was answered ``200``
must be stored (and then grouped). With a per-project quota (``TRACEFIX_EVENTS_PER_MINUTE``),
every ``200`` must be a stored event and every other answer a ``429``.

``--baseline REV`` runs tracefix as of a git revision too (``git archive`` of its ``src``, on
``PYTHONPATH``), in the same rotation: before and after a change, under the same conditions.
The machine is shared and noisy, so the report starts with its load average and the latency of
an ``fdatasync`` on its disk, before and after the run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from _report import replace_section

ROOT = Path(__file__).resolve().parents[1]
BUGSINK_PYTHON = Path(
    os.environ.get("TRACEFIX_BUGSINK_PYTHON") or ROOT / ".venv-bugsink" / "bin" / "python"
)
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
KS = (1, 4, 16)
SYSTEMS = ("tracefix-sqlite", "tracefix-postgresql", "bugsink")
#: 32 characters, none of them hex: where each request's event id goes in a template.
EVENT_ID_MARK = "EVENT_ID_MARK_XXXXXXXXXXXXXXXXXX"
#: How long the digest may take to catch up after the load stops before a run is cut short.
DRAIN_SECONDS = 600.0
TARGET_GROUPED_PER_SECOND = 1000.0
TARGET_P99_MS = 50.0
TARGET_RSS_MIB = 300.0

SHOP = textwrap.dedent(
    '''
    """A small shop whose views fail in four ways, each a few in-app frames deep."""
    from flask import Flask

    app = Flask(__name__)
    PRICES = {"apple": 120, "pear": 95, "plum": 40}


    def load_line(invoice_id, lines):
        customer = {"id": invoice_id, "name": "acme", "tier": "gold"}
        return lines[invoice_id], customer


    def render_invoice(invoice_id):
        lines = [{"sku": sku, "cents": cents} for sku, cents in PRICES.items()]
        line, customer = load_line(invoice_id, lines)
        return f"{customer['name']}: {line['sku']}"


    def apply_discount(total, percent):
        if not 0 <= percent <= 100:
            raise ValueError(f"discount of {percent}% is out of range")
        return total * (100 - percent) // 100


    def checkout(cart, percent):
        total = sum(PRICES[item] for item in cart)
        return apply_discount(total, percent)


    def ratio(done, planned):
        return done / planned


    def weekly_report(week):
        planned = {"mon": 0, "tue": 3, "wed": 2}
        return {day: ratio(week.get(day, 0), count) for day, count in planned.items()}


    def push_account(account):
        if account["remote"] is None:
            raise RuntimeError(f"account {account['id']} has no remote")


    def sync_account(account_id):
        account = {"id": account_id, "remote": None, "retries": 3}
        push_account(account)


    @app.get("/invoice/<int:invoice_id>")
    def invoice(invoice_id):
        return render_invoice(invoice_id)


    @app.post("/checkout/<int:percent>")
    def checkout_view(percent):
        return str(checkout(["apple", "pear"], percent))


    @app.get("/report/<name>")
    def report(name):
        return str(weekly_report({"tue": 2, "owner": name}))


    @app.get("/sync/<int:account_id>")
    def sync(account_id):
        sync_account(account_id)
        return "synced"
    '''
)

#: Prints the envelopes sentry-sdk builds for the shop's errors, as hex.
CAPTURE = textwrap.dedent(
    """
    import json
    import sys

    sys.path.insert(0, sys.argv[1])
    import sentry_sdk
    from sentry_sdk.transport import Transport

    recorded = []


    class RecordingTransport(Transport):
        def capture_envelope(self, envelope):
            if any(item.type == "event" for item in envelope.items):
                recorded.append(envelope.serialize().hex())


    sentry_sdk.init(
        dsn="http://publickey@127.0.0.1:9/1",
        transport=RecordingTransport,
        release="shop@1.4.2",
        environment="production",
        in_app_include=["bench_shop"],
    )
    from bench_shop import app

    client = app.test_client()
    for method, path in [
        ("GET", "/invoice/7"), ("GET", "/invoice/12"),
        ("POST", "/checkout/120"), ("POST", "/checkout/250"),
        ("GET", "/report/ann"), ("GET", "/report/bob"),
        ("GET", "/sync/42"), ("GET", "/sync/1001"),
    ]:
        assert client.open(path, method=method).status_code == 500
    sentry_sdk.flush()
    print(json.dumps(recorded))
    """
)

WRK_SCRIPT = textwrap.dedent(
    """
    local paths = {PATHS}
    -- Each template as its pieces around the marks: concatenating them with the id costs
    -- far less than a gsub over the whole body for every request.
    local templates = {{}}
    for i, path in ipairs(paths) do
      local file = assert(io.open(path, "rb"))
      local body = file:read("*a")
      file:close()
      local pieces, start = {{}}, 1
      while true do
        local at = string.find(body, "{MARK}", start, true)
        if not at then break end
        pieces[#pieces + 1] = string.sub(body, start, at - 1)
        start = at + {MARK_LENGTH}
      end
      pieces[#pieces + 1] = string.sub(body, start)
      templates[i] = pieces
    end
    local headers = {{
      ["Content-Type"] = "application/x-sentry-envelope",
      ["X-Sentry-Auth"] = "Sentry sentry_version=7, sentry_key={KEY}",
    }}
    local threads = {{}}
    local sent = 0
    counts = {{}}

    function setup(thread)
      thread:set("thread_index", #threads)
      table.insert(threads, thread)
    end

    function init(args)
      prefix = string.format("{RUN}%08x", thread_index)
    end

    function request()
      sent = sent + 1
      local id = prefix .. string.format("%016x", sent)
      local pieces = templates[sent % #templates + 1]
      local body = table.concat(pieces, id)
      return wrk.format("POST", "{PATH}", headers, body)
    end

    function response(status, response_headers, body)
      counts[status] = (counts[status] or 0) + 1
    end

    function done(summary, latency, requests)
      local statuses = {{}}
      for _, thread in ipairs(threads) do
        for status, count in pairs(thread:get("counts")) do
          statuses[#statuses + 1] = string.format('"%d": %d', status, count)
        end
      end
      local errors = summary.errors
      io.write(string.format(
        'RESULT {{"duration_us": %d, "requests": %d, "statuses": {{%s}}, "p50_us": %d, ' ..
        '"p99_us": %d, "max_us": %d, "errors": %d}}\\n',
        summary.duration, summary.requests, table.concat(statuses, ", "),
        latency:percentile(50), latency:percentile(99), latency.max,
        errors.connect + errors.read + errors.write + errors.timeout))
    end
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-3000:]
                raise RuntimeError(f"the server did not start:\n{tail}") from None
            time.sleep(0.1)


def envelope_templates(workdir: Path) -> list[bytes]:
    """sentry-sdk's envelopes of the shop's errors, each event id replaced by the mark."""
    (workdir / "bench_shop.py").write_text(SHOP)
    done = subprocess.run(
        [sys.executable, "-c", CAPTURE, str(workdir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")},
    )
    templates = []
    for serialized in json.loads(done.stdout.strip().splitlines()[-1]):
        body = bytes.fromhex(serialized)
        event_id = json.loads(body.split(b"\n", 1)[0])["event_id"]
        assert body.count(event_id.encode()) >= 2, "the event id is in the header and the event"
        templates.append(body.replace(event_id.encode(), EVENT_ID_MARK.encode()))
    assert len(templates) == 8, f"{len(templates)} envelopes captured"
    return templates


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from every process's parent in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, ()))
    return tree


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """The peak of the summed RSS of some process trees, sampled every 0.2 s (the trees are
    re-read every 2 s, which catches a worker restarted by its master)."""

    def __init__(self, roots: Callable[[], list[int]]) -> None:
        self.roots = roots
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pids: list[int] = []
        refreshed = 0.0
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 2.0:
                pids = [pid for root in self.roots() for pid in process_tree(root)]
                refreshed = time.monotonic()
            self.peak_kib = max(self.peak_kib, sum(rss_kib(pid) for pid in pids))
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


def spawn(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


class Server:
    """One server under test, on an empty database of its own."""

    label = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.key = ""
        self.project_id = 0

    @property
    def envelope_path(self) -> str:
        return f"/api/{self.project_id}/envelope/"

    def set_up(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def roots(self) -> list[int]:
        raise NotImplementedError

    def grouped(self) -> int:
        """Events of the project filed in an issue (queryable in it)."""
        raise NotImplementedError

    def ungrouped(self) -> int:
        """Events stored and not yet in an issue (0 when unknown)."""
        return 0

    def tear_down(self) -> None:
        pass


class TracefixServer(Server):
    """``tracefix serve``; ``source`` runs another version's ``src`` instead of this one."""

    def __init__(
        self, workdir: Path, database: str, source: Path | None = None, **env: str
    ) -> None:
        super().__init__(workdir)
        self.label = f"tracefix-{database}"
        self.database = database
        self.source = source
        self.extra_env = env
        self.data_dir = workdir / "data"
        self.pg_name = f"bench_{uuid.uuid4().hex[:12]}"
        if database == "sqlite":
            self.database_url = f"sqlite:///{self.data_dir / 'tracefix.db'}"
        else:
            self.database_url = f"{POSTGRES_URL}/{self.pg_name}"
        self.process: subprocess.Popen[bytes] | None = None
        self._reader: Any = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEFIX_", "SENTRY_"))}
        env.update(
            TRACEFIX_DATA_DIR=str(self.data_dir),
            TRACEFIX_DATABASE_URL=self.database_url,
            TRACEFIX_BIND=f"127.0.0.1:{self.port}",
            **self.extra_env,
        )
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        return env

    def set_up(self) -> None:
        if self.database == "postgresql":
            with _postgres("postgres") as admin:
                admin.execute(f"CREATE DATABASE {self.pg_name}")
        done = subprocess.run(
            [sys.executable, "-m", "tracefix", "project", "create", "shop"],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        dsn = done.stdout.strip().splitlines()[-1]
        self.key = dsn.split("://", 1)[1].split("@", 1)[0]
        self.project_id = int(dsn.rstrip("/").rsplit("/", 1)[1])

    def start(self) -> None:
        log = self.workdir / "tracefix.log"
        self.process = spawn(
            [sys.executable, "-m", "tracefix", "serve"], self.env(), self.workdir, log
        )
        wait_for_port(self.port, self.process, log, 60)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        """``kill -9`` of the server process and its worker, at once."""
        assert self.process is not None
        for pid in reversed(process_tree(self.process.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)
        self.process = None

    def roots(self) -> list[int]:
        return [self.process.pid] if self.process is not None else []

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        if self._reader is None:
            if self.database == "sqlite":
                self._reader = sqlite3.connect(
                    f"file:{self.data_dir / 'tracefix.db'}?mode=ro", uri=True, timeout=30
                )
            else:
                import psycopg

                self._reader = psycopg.connect(
                    self.database_url.replace("+psycopg", ""), autocommit=True
                )
        return list(self._reader.execute(sql).fetchall())

    def grouped(self) -> int:
        return int(self._query("SELECT count(*) FROM event WHERE issue_id IS NOT NULL")[0][0])

    def ungrouped(self) -> int:
        return int(self._query("SELECT count(*) FROM event WHERE issue_id IS NULL")[0][0])

    def event_ids(self) -> set[str]:
        return {row[0] for row in self._query("SELECT event_id FROM event")}

    def issue_event_total(self) -> int:
        return int(self._query("SELECT coalesce(sum(event_count), 0) FROM issue")[0][0])

    def tear_down(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self.database == "postgresql":
            with _postgres("postgres") as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.pg_name} WITH (FORCE)")


def _postgres(database: str) -> Any:
    import psycopg

    return psycopg.connect(f"{POSTGRES_URL}/{database}", autocommit=True)


BUGSINK_SETTINGS = """
BUGSINK["BASE_URL"] = "http://127.0.0.1:{port}"
ALLOWED_HOSTS = deduce_allowed_hosts(BUGSINK["BASE_URL"])
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
USE_X_REAL_IP = False
BUGSINK["PHONEHOME"] = False
for _quota in ("MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR",
               "MAX_EVENTS_PER_PROJECT_PER_MONTH", "MAX_EVENTS_PER_5_MINUTES",
               "MAX_EVENTS_PER_HOUR", "MAX_EVENTS_PER_MONTH"):
    BUGSINK[_quota] = 10 ** 9
"""

BUGSINK_PROJECT = """
import json
from teams.models import Team
from projects.models import Project
team = Team.objects.create(name="bench")
project = Project.objects.create(name="shop", slug="shop", team=team,
                                 retention_max_event_count=10 ** 8)
print(json.dumps(project.dsn))
"""


class BugsinkServer(Server):
    label = "bugsink"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")},
            "DJANGO_SETTINGS_MODULE": "bugsink_conf",
            "PYTHONPATH": str(workdir),
            "PYTHONUNBUFFERED": "1",
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.snappea: subprocess.Popen[bytes] | None = None
        self._reader: sqlite3.Connection | None = None

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(BUGSINK_PYTHON), *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(f"bugsink {args}: {done.stdout}\n{done.stderr}")
        return done.stdout

    def set_up(self) -> None:
        conf = self.workdir / "bugsink_conf.py"
        self.run(
            "-m",
            "bugsink.scripts.create_conf",
            "--template=singleserver",
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--base-dir={self.workdir}",
            f"--output-file={conf}",
        )
        conf.write_text(conf.read_text() + BUGSINK_SETTINGS.format(port=self.port))
        manage = ("-m", "bugsink.scripts.manage")
        self.run(*manage, "migrate", "--verbosity=0")
        self.run(*manage, "migrate", "snappea", "--database=snappea", "--verbosity=0")
        out = self.run(*manage, "shell", "--no-imports", stdin=BUGSINK_PROJECT)
        dsn = json.loads(out.strip().splitlines()[-1])
        self.key = dsn.split("://", 1)[1].split("@", 1)[0]
        self.project_id = int(dsn.rstrip("/").rsplit("/", 1)[1])

    def start(self) -> None:
        self.snappea = spawn(
            [str(BUGSINK_PYTHON), "-m", "bugsink.scripts.runsnappea"],
            self.env,
            self.workdir,
            self.workdir / "snappea.log",
        )
        log = self.workdir / "web.log"
        self.web = spawn(
            [
                str(BUGSINK_PYTHON),
                "-m",
                "gunicorn",
                f"--bind=127.0.0.1:{self.port}",
                "--workers=2",
                "--no-control-socket",
                "bugsink.wsgi",
            ],
            self.env,
            self.workdir,
            log,
        )
        wait_for_port(self.port, self.web, log, 120)

    def stop(self) -> None:
        stop_process(self.web)
        stop_process(self.snappea)
        self.web = self.snappea = None

    def roots(self) -> list[int]:
        return [p.pid for p in (self.web, self.snappea) if p is not None]

    def grouped(self) -> int:
        if self._reader is None:
            self._reader = sqlite3.connect(
                f"file:{self.workdir / 'db.sqlite3'}?mode=ro", uri=True, timeout=30
            )
        row = self._reader.execute(
            "SELECT digested_event_count FROM projects_project WHERE id = ?", (self.project_id,)
        ).fetchone()
        return int(row[0])

    def tear_down(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def bugsink_version() -> str:
    try:
        done = subprocess.run(
            [str(BUGSINK_PYTHON.parent / "bugsink-show-version")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


#: Where ``--baseline`` put the ``src`` of each revision it benchmarks.
BASELINES: dict[str, Path] = {}


def make_server(system: str, workdir: Path, **env: str) -> Server:
    """``bugsink``, ``tracefix-DATABASE``, or ``tracefix@REV-DATABASE`` (see ``--baseline``)."""
    if system == "bugsink":
        return BugsinkServer(workdir)
    name, _, database = system.rpartition("-")
    source = BASELINES[name.partition("@")[2]] if "@" in name else None
    return TracefixServer(workdir, database, source, **env)


def extract_baseline(revision: str, into: Path) -> Path:
    """This repository's ``src`` at ``revision``, in ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


@dataclass
class Answers:
    """What a client got: event ids answered 200, other statuses, requests left unanswered."""

    acknowledged: list[str] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)
    refused_ids: list[str] = field(default_factory=list)
    unanswered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ThreadClient:
    """Keep-alive connections, one per thread, each posting the next envelope when the last is
    answered; for the durability checks, which need every acknowledged id (wrk counts them)."""

    def __init__(self, server: Server, templates: list[bytes], threads: int) -> None:
        self.server = server
        self.templates = templates
        self.answers = Answers()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> Answers:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        return self.answers

    def _run(self, offset: int) -> None:
        headers = {
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={self.server.key}",
        }
        connection: http.client.HTTPConnection | None = None
        sent = offset
        while not self._stop.is_set():
            event_id = uuid.uuid4().hex
            body = self.templates[sent % len(self.templates)].replace(
                EVENT_ID_MARK.encode(), event_id.encode()
            )
            sent += 1
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.server.port, 30)
                connection.request("POST", self.server.envelope_path, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                with self.answers.lock:
                    self.answers.unanswered += 1
                if connection is not None:
                    connection.close()
                connection = None
                self._stop.wait(0.05)
                continue
            with self.answers.lock:
                if response.status == 200:
                    self.answers.acknowledged.append(event_id)
                else:
                    self.answers.refused[response.status] += 1
                    self.answers.refused_ids.append(event_id)
        if connection is not None:
            connection.close()


@dataclass
class WrkResult:
    seconds: float
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_seconds: float

    @property
    def accepted(self) -> int:
        return self.statuses.get(200, 0)


def run_wrk(server: Server, lua: Path, connections: int, seconds: float) -> WrkResult:
    process = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout=30s",
            "--latency",
            "-s",
            str(lua),
            f"http://127.0.0.1:{server.port}{server.envelope_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    out = process.stdout.read().decode(errors="replace")
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{out}")
    result = json.loads(line[7:])
    return WrkResult(
        seconds=result["duration_us"] / 1e6,
        statuses={int(k): v for k, v in result["statuses"].items()},
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        errors=result["errors"],
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


def write_wrk_script(workdir: Path, templates: list[bytes], server: Server) -> Path:
    paths = []
    for n, template in enumerate(templates):
        path = workdir / f"envelope-{n}.bin"
        path.write_bytes(template)
        paths.append(path)
    lua = workdir / "ingest.lua"
    lua.write_text(
        WRK_SCRIPT.format(
            PATHS="{" + ", ".join(json.dumps(str(p)) for p in paths) + "}",
            KEY=server.key,
            RUN=uuid.uuid4().hex[:8],
            MARK=EVENT_ID_MARK,
            MARK_LENGTH=len(EVENT_ID_MARK),
            PATH=server.envelope_path,
        )
    )
    return lua


def warm_up(server: Server, templates: list[bytes]) -> int:
    """One request per template before the clock starts (imports, caches, the issues' first
    events); the number answered 200."""
    client = ThreadClient(server, templates, threads=1)
    deadline = time.monotonic() + 60
    while len(client.answers.acknowledged) < len(templates) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(client.stop().acknowledged)


def wait_grouped(server: Server, expected: int, timeout: float) -> float | None:
    """The moment every one of ``expected`` events is grouped (and nothing stored waits for
    the digest); None if not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.grouped() >= expected and server.ungrouped() == 0:
            return time.monotonic()
        time.sleep(0.1)
    return None


def measure(
    system: str, connections: int, seconds: float, templates: list[bytes]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"ingest-{system}-") as tmp:
        server = make_server(system, Path(tmp))
        server.set_up()
        try:
            server.start()
            warm = warm_up(server, templates)
            lua = write_wrk_script(Path(tmp), templates, server)
            sampler = RssSampler(server.roots)
            started = time.monotonic()
            wrk = run_wrk(server, lua, connections, seconds)
            grouped_at = wait_grouped(server, warm + wrk.accepted, DRAIN_SECONDS)
            rss_mib = sampler.stop()
            grouped = server.grouped() - warm
        finally:
            server.stop()
            server.tear_down()
    end_to_end = (grouped_at or time.monotonic()) - started
    row = {
        "accepted_per_s": wrk.accepted / wrk.seconds,
        "p50_ms": wrk.p50_ms,
        "p99_ms": wrk.p99_ms,
        "grouped_per_s": (wrk.accepted if grouped_at else grouped) / end_to_end,
        "drained": grouped_at is not None,
        "end_to_end_s": end_to_end,
        "rss_mib": rss_mib,
        "accepted": wrk.accepted,
        "refused": {k: v for k, v in wrk.statuses.items() if k != 200},
        "socket_errors": wrk.errors,
        "wrk_cpu_share": wrk.cpu_seconds / wrk.seconds,
    }
    print(f"  {system} K={connections}: {json.dumps(row)}", flush=True)
    return row


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def kill_under_load(database: str, templates: list[bytes]) -> dict[str, Any]:
    """``kill -9`` the server while 8 clients send; every acknowledged id must survive."""
    with tempfile.TemporaryDirectory(prefix="ingest-kill-") as tmp:
        server = TracefixServer(Path(tmp), database)
        server.set_up()
        try:
            server.start()
            client = ThreadClient(server, templates, threads=8)
            time.sleep(2.0)
            server.kill()
            answers = client.stop()
            server.start()
            stored = server.event_ids()
            digested = wait_until(lambda: server.ungrouped() == 0, 120)
            result = {
                "acknowledged": len(answers.acknowledged),
                "unanswered": answers.unanswered,
                "stored": len(stored),
                "lost": len(set(answers.acknowledged) - stored),
                "refused": dict(answers.refused),
                "grouped_after_restart": digested
                and server.issue_event_total() == len(stored) == server.grouped(),
            }
        finally:
            server.stop()
            server.tear_down()
    print(f"  kill -9 ({database}): {json.dumps(result)}", flush=True)
    return result


def quota_under_load(templates: list[bytes], per_minute: int, seconds: float) -> dict[str, Any]:
    """Over a quota, every 200 must be stored and every other answer must be a 429."""
    with tempfile.TemporaryDirectory(prefix="ingest-quota-") as tmp:
        server = TracefixServer(Path(tmp), "sqlite", TRACEFIX_EVENTS_PER_MINUTE=str(per_minute))
        server.set_up()
        try:
            server.start()
            client = ThreadClient(server, templates, threads=8)
            time.sleep(seconds)
            answers = client.stop()
            stored = server.event_ids()
            result = {
                "per_minute": per_minute,
                "acknowledged": len(answers.acknowledged),
                "refused": dict(answers.refused),
                "unanswered": answers.unanswered,
                "stored": len(stored),
                "acknowledged_not_stored": len(set(answers.acknowledged) - stored),
                "refused_but_stored": len(set(answers.refused_ids) & stored),
            }
        finally:
            server.stop()
            server.tear_down()
    print(f"  quota: {json.dumps(result)}", flush=True)
    return result


def fsync_latency_ms(directory: Path, seconds: float = 2.0) -> tuple[float, float]:
    """The median and p99 of ``fdatasync`` after a 64 KiB write, in ``directory``: what a
    commit waits for at least, on this machine's disk at this moment."""
    path = directory / "fsync-probe"
    samples = []
    with open(path, "wb") as out:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            out.write(b"x" * 65536)
            out.flush()
            started = time.perf_counter()
            os.fdatasync(out.fileno())
            samples.append((time.perf_counter() - started) * 1000)
    path.unlink()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def environment(directory: Path) -> str:
    load = os.getloadavg()[0]
    median, p99 = fsync_latency_ms(directory)
    return f"load average {load:.1f}, fsync {median:.2f} ms median / {p99:.1f} ms p99"


def postgres_available() -> bool:
    try:
        with _postgres("postgres") as admin:
            admin.execute("SELECT 1")
        return True
    except Exception as exc:  # any reason it cannot be used: the system is left out
        print(f"PostgreSQL is not available ({exc}): tracefix-postgresql is left out")
        return False


def bugsink_available() -> bool:
    try:
        subprocess.run(
            [str(BUGSINK_PYTHON), "-c", "import bugsink, gunicorn"], check=True, timeout=60
        )
        return True
    except (OSError, subprocess.SubprocessError):
        print(f"Bugsink is not installed at {BUGSINK_PYTHON}: it is left out")
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5 s per run, for a smoke run")
    parser.add_argument("--seconds", type=float, default=None, help="load per run (30)")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--connections", default=",".join(map(str, KS)))
    parser.add_argument("--no-durability", action="store_true")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        action="append",
        default=[],
        help="also run tracefix as of git revision REV (systems tracefix@REV-sqlite, -postgresql)",
    )
    parser.add_argument("--save", type=Path, help="write every run's figures to this JSON file")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="report a saved run (--save) without running"
    )
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    results = json.loads(args.render.read_text()) if args.render else run(args)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1))
    text = render(results)
    print(text)
    if args.write:
        replace_section(args.write, "## Server ingest", text)
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every run of the session, and what the report needs to say how they were made."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    seconds = args.seconds or (5.0 if args.quick else 30.0)
    systems = [s for s in args.systems.split(",") if s]
    baselines_dir = tempfile.TemporaryDirectory(prefix="ingest-baselines-")
    for revision in args.baseline:
        BASELINES[revision] = extract_baseline(revision, Path(baselines_dir.name) / revision)
        ours = [s.removeprefix("tracefix-") for s in systems if s.startswith("tracefix-")]
        systems += [f"tracefix@{revision}-{database}" for database in ours]
    if any(s.endswith("-postgresql") for s in systems) and not postgres_available():
        systems = [s for s in systems if not s.endswith("-postgresql")]
    if "bugsink" in systems and not bugsink_available():
        systems.remove("bugsink")
    ks = [int(k) for k in args.connections.split(",")]
    started = time.monotonic()
    rows: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        templates = envelope_templates(Path(tmp))
        before = environment(Path(tmp))
    print(f"{len(templates)} envelopes, {min(map(len, templates))}-{max(map(len, templates))} B")
    for rep in range(args.reps):
        order = systems[rep % len(systems) :] + systems[: rep % len(systems)]
        for connections in ks:
            for system in order:
                rows.setdefault(f"{system} K={connections}", []).append(
                    measure(system, connections, seconds, templates)
                )
    durability: dict[str, Any] = {}
    if not args.no_durability:
        durability["kill"] = {
            db: kill_under_load(db, templates)
            for db in ("sqlite", "postgresql")
            if db == "sqlite" or "tracefix-postgresql" in systems
        }
        durability["quota"] = quota_under_load(templates, 600, 3.0 if args.quick else 10.0)
    baselines_dir.cleanup()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        after = environment(Path(tmp))
    options = f" --reps {args.reps}" + (" --quick" if args.quick else "")
    if args.seconds:
        options += f" --seconds {args.seconds:g}"
    if args.systems != ",".join(SYSTEMS):
        options += f" --systems {args.systems}"
    if args.connections != ",".join(map(str, KS)):
        options += f" --connections {args.connections}"
    if args.no_durability:
        options += " --no-durability"
    options += "".join(f" --baseline {revision}" for revision in args.baseline)
    return {
        "options": options,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "bugsink": bugsink_version(),
        "seconds": seconds,
        "reps": args.reps,
        "elapsed": time.monotonic() - started,
        "conditions": f"before: {before}; after: {after}",
        "systems": systems,
        "ks": ks,
        "sizes": sorted(map(len, templates)),
        "rows": rows,
        "durability": durability,
    }


def _spread(values: list[float], fmt: str) -> str:
    middle = fmt.format(statistics.median(values))
    if len(values) == 1:
        return middle
    return f"{middle} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def render(results: dict[str, Any]) -> str:
    rows: dict[str, list[dict[str, Any]]] = results["rows"]
    systems: list[str] = results["systems"]
    ks: list[int] = results["ks"]
    lines = [
        "## Server ingest",
        "",
        f"Command: `python benchmarks/ingest_bench.py{results['options']}`  ",
        f"Machine: {results['machine']}; {results['seconds']:g} s of load per run, "
        f"{results['reps']} runs per cell, systems in rotating order, median (min–max); "
        f"Bugsink {results['bugsink']}; {results['elapsed']:.0f} s in all.  ",
        f"Conditions ({results['conditions']}).",
        "",
        "| system | K | accepted events/s | p99 acknowledge ms | stored and grouped events/s "
        "| peak RSS MiB | wrk CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for system in systems:
        for k in ks:
            cell = rows.get(f"{system} K={k}", [])
            if not cell:
                continue
            grouped = _spread([r["grouped_per_s"] for r in cell], "{:,.0f}")
            if not all(r["drained"] for r in cell):
                grouped += " (not drained)"
            refused = sum(sum(r["refused"].values()) + r["socket_errors"] for r in cell)
            accepted = _spread([r["accepted_per_s"] for r in cell], "{:,.0f}")
            if refused:
                accepted += f" ({refused:,} not 200)"
            p99 = _spread([r["p99_ms"] for r in cell], "{:,.1f}")
            lines.append(
                f"| {system} | {k} | {accepted} | {p99} "
                f"| {grouped} | {_spread([r['rss_mib'] for r in cell], '{:,.0f}')} "
                f"| {statistics.median(r['wrk_cpu_share'] for r in cell):.0%} |"
            )
    lines += ["", *targets(rows, systems, ks), *ratios(rows, systems, ks)]
    if results["durability"]:
        lines += ["", *durability_lines(results["durability"])]
    sizes = results["sizes"]
    baseline = any("@" in system for system in systems)
    lines += [
        "",
        "How to read it: K keep-alive connections, each sending its next envelope as soon as "
        "the last is answered, for the whole run; an answer `200` means stored (for tracefix, "
        f"committed). Envelopes of {sizes[0]:,}–{sizes[-1]:,} bytes, built by sentry-sdk from "
        'four Flask errors (four issues). "Stored and grouped" counts from the first request '
        "until the last acknowledged event is in its issue in the server's own tables. wrk CPU "
        "is the load generator's share of one core. Peak RSS sums the server's processes (the "
        "PostgreSQL server is not counted)."
        + (
            " `tracefix@REV` rows are tracefix as of that revision, run in the same rotation."
            if baseline
            else ""
        ),
        "",
        "The tails: an acknowledgement waits for its group commit's fsync, and so does every "
        "request that joined that commit. On this machine's shared disk an fsync takes well "
        "under a millisecond most of the time and tens to hundreds of milliseconds a few times "
        "a minute, more often while other work on the machine writes (the conditions line "
        "measures it): on SQLite those stalls make most of the p99 figures and of the spread "
        "between runs. Where a server is saturated, latency is mostly queueing instead: K "
        "requests share what it does per second (16 at 600 events/s is 27 ms each on average). "
        "The machine's other users' load (the conditions line) also takes CPU from the servers "
        "under test, all of them alike.",
    ]
    return "\n".join(lines)


def ratios(rows: dict[str, list[dict[str, Any]]], systems: list[str], ks: list[int]) -> list[str]:
    """Each tracefix against its baseline revision, stored and grouped events/s."""
    out = []
    for system in systems:
        if "@" not in system:
            continue
        current = "tracefix-" + system.rpartition("-")[2]
        if current not in systems:
            continue
        per_k = []
        for k in ks:
            before, after = rows.get(f"{system} K={k}"), rows.get(f"{current} K={k}")
            if before and after:
                old = statistics.median(r["grouped_per_s"] for r in before)
                new = statistics.median(r["grouped_per_s"] for r in after)
                per_k.append(f"K={k} {new / old:.1f}×")
        if per_k:
            out.append(f"- {current} against {system}, stored and grouped: {', '.join(per_k)}.")
    return ["", "Against the baseline (medians):", "", *out] if out else []


def targets(rows: dict[str, list[dict[str, Any]]], systems: list[str], ks: list[int]) -> list[str]:
    """Each target with tracefix's medians, per K where it depends on K."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    out = ["Targets (tracefix, medians):", ""]
    for system in (s for s in systems if s.startswith("tracefix-")):
        cells = {k: rows[f"{system} K={k}"] for k in ks if f"{system} K={k}" in rows}
        if not cells:
            continue
        grouped = {k: statistics.median(r["grouped_per_s"] for r in c) for k, c in cells.items()}
        rss = max(statistics.median(r["rss_mib"] for r in c) for c in cells.values())
        per_k = ", ".join(
            f"K={k} {value:,.0f}/s {verdict(value >= TARGET_GROUPED_PER_SECOND)}"
            for k, value in grouped.items()
        )
        line = (
            f"- {system}: stored and grouped ≥ {TARGET_GROUPED_PER_SECOND:,.0f} events/s: {per_k}; "
        )
        if 16 in cells:
            p99 = statistics.median(r["p99_ms"] for r in cells[16])
            line += (
                f"p99 acknowledge < {TARGET_P99_MS:.0f} ms at K=16: {p99:,.1f} ms, "
                f"{verdict(p99 < TARGET_P99_MS)}; "
            )
        out.append(
            line + f"RSS < {TARGET_RSS_MIB:.0f} MiB: {rss:,.0f} MiB at most, "
            f"{verdict(rss < TARGET_RSS_MIB)}."
        )
    return out if len(out) > 2 else []


def durability_lines(durability: dict[str, Any]) -> list[str]:
    out = ["Durability (tracefix):", ""]
    for database, kill in durability.get("kill", {}).items():
        out.append(
            f"- `kill -9` of the server process and its worker under load from 8 clients "
            f"({database}): {kill['acknowledged']:,} events acknowledged, {kill['unanswered']} "
            f"requests cut off unanswered; after the restart {kill['stored']:,} stored, "
            f"**{kill['lost']} acknowledged events lost**; "
            + (
                "all grouped after the restart."
                if kill["grouped_after_restart"]
                else "**not all grouped after the restart**."
            )
        )
    quota = durability.get("quota")
    if quota:
        refused = ", ".join(f"{n:,} × {status}" for status, n in sorted(quota["refused"].items()))
        out.append(
            f"- a quota of {quota['per_minute']} events a minute under the same load: "
            f"{quota['acknowledged']:,} × 200, {refused or 'nothing else'}; "
            f"{quota['acknowledged_not_stored']} acknowledged and not stored, "
            f"{quota['refused_but_stored']} refused and stored."
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
