"""What a ``200`` promises.

Against the real ``tracefix serve`` (Granian, SQLite in WAL mode unless said otherwise):

- an acknowledged event survives ``kill -9`` of the server process and its worker under load,
  and is grouped once the server is back; on SQLite and on PostgreSQL, where the intake
  commits each batch as one statement in autocommit mode;
- over a per-project quota (``TRACEFIX_EVENTS_PER_MINUTE``), every ``200`` is a stored event
  and every other answer is a ``429``: an event is never acknowledged and then dropped.

In process, on SQLite and PostgreSQL: an acknowledged event is counted once in its issue,
whether the intake files it (an open issue) or the digest does (a new or resolved one); a
batch is stored, filed and committed at once.

These assert behaviour, not speed: the load is whatever 8 client threads get through.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.digest import digest_pending
from tracefix.server.ingest.filing import EventWriter
from tracefix.server.ingest.filing import StoredEvents
from tracefix.server.ingest.filing import store_events
from tracefix.server.ingest.protocol import IncomingEvent
from tracefix.server.ingest.protocol import incoming_event
from tracefix.server.models import Event
from tracefix.server.models import Issue
from tracefix.server.models import IssueRelease
from tracefix.server.models import utcnow
from tracefix.server.projects import create_project
from tracefix.server.web import create_app
from tracefix.server.web.ingest import forget_cached_projects

from .conftest import state
from .test_ingest import auth
from .test_ingest import envelope
from .test_ingest import event_payload

CLIENTS = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rpartition(")")[2].split()[1]), []).append(int(entry))
    found, todo = [], list(parents.get(pid, ()))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(parents.get(child, ()))
    return found


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Served:
    """``tracefix serve`` in a subprocess, on a data directory (and ``TRACEFIX_DATABASE_URL``,
    if given) that outlives restarts."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEFIX_")}
        self.env.update(
            TRACEFIX_DATA_DIR=str(data_dir), TRACEFIX_BIND=f"127.0.0.1:{self.port}", **env
        )
        self.process: subprocess.Popen[bytes] | None = None
        dsn = self._tracefix("project", "create", "shop").strip().splitlines()[-1]
        self.key = dsn.split("://", 1)[1].split("@", 1)[0]
        self.project_id = int(dsn.rsplit("/", 1)[1])

    def _tracefix(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tracefix", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        log = open(self.data_dir / "serve.log", "ab")  # the child keeps its own copy
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tracefix", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        started = _wait_until(self._listening, 60)
        assert started, (self.data_dir / "serve.log").read_text()[-3000:]

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def kill(self) -> list[int]:
        """``kill -9`` of the server process and its worker at once; their pids."""
        assert self.process is not None
        pids = [self.process.pid, *_descendants(self.process.pid)]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None
        return pids

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def query(self, sql: str) -> list[tuple[object, ...]]:
        url = self.env.get("TRACEFIX_DATABASE_URL") or f"sqlite:///{self.data_dir / 'tracefix.db'}"
        if url.startswith("postgresql"):
            import psycopg

            with psycopg.connect(url, autocommit=True) as connection:
                return connection.execute(sql).fetchall()
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
            return db.execute(sql).fetchall()

    def stored_ids(self) -> set[str]:
        return {str(row[0]) for row in self.query("SELECT event_id FROM event")}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    servers: list[Served] = []

    def make(**env: str) -> Served:
        server = Served(tmp_path / "data", **env)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


class Clients:
    """Threads on keep-alive connections, each sending its next event once the last one is
    answered; every answer is recorded with its event id (a fresh one each time)."""

    def __init__(self, server: Served) -> None:
        self.server = server
        self.answers: list[tuple[str, int]] = []
        self.unanswered: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(CLIENTS)
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, number: int) -> None:
        headers = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={self.server.key}"}
        path = f"/api/{self.server.project_id}/envelope/"
        connection: http.client.HTTPConnection | None = None
        while not self.stopping.is_set():
            event_id = uuid.uuid4().hex
            body = envelope(event_payload(event_id, message=f"client {number}"))
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.server.port, 30)
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unanswered.append(event_id)
                if connection is not None:
                    connection.close()
                connection = None
                self.stopping.wait(0.05)
                continue
            with self.lock:
                self.answers.append((event_id, response.status))
        if connection is not None:
            connection.close()

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for _, answered in self.answers if answered == status)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def ids(self, status: int) -> set[str]:
        return {event_id for event_id, answered in self.answers if answered == status}


def test_no_acknowledged_event_is_lost_to_kill_9_under_load(
    served: Callable[..., Served], database_url: str
) -> None:
    server = served(TRACEFIX_DATABASE_URL=database_url)
    clients = Clients(server)
    try:
        assert _wait_until(lambda: clients.count(200) >= 200, 120), "the load never got going"
        killed = server.kill()
    finally:
        clients.stop()
    assert len(killed) >= 2, f"the server process and its worker, not {killed}"
    acknowledged = clients.ids(200)
    assert set(Counter(status for _, status in clients.answers)) == {200}

    server.start()
    stored = server.stored_ids()
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events lost"
    # What was stored and not acknowledged (committed, then killed before the answer) is
    # harmless: the SDK sends it again with the same id, and it is stored once.
    assert stored <= acknowledged | set(clients.unanswered)

    # Back up, the server groups what it had stored and not yet grouped before it died.
    assert _wait_until(
        lambda: server.query("SELECT count(*) FROM event WHERE issue_id IS NULL")[0][0] == 0, 120
    )
    ((counted,),) = server.query("SELECT sum(event_count) FROM issue")
    assert counted == len(stored)


def test_over_a_quota_every_200_is_stored_and_every_other_answer_is_a_429(
    served: Callable[..., Served],
) -> None:
    per_minute = 60
    server = served(TRACEFIX_EVENTS_PER_MINUTE=str(per_minute))
    clients = Clients(server)
    try:
        assert _wait_until(lambda: clients.count(429) >= 100, 120)
    finally:
        clients.stop()
    statuses = Counter(status for _, status in clients.answers)
    assert set(statuses) == {200, 429}
    # The bucket starts full: at least a minute's quota is let through before any 429.
    assert statuses[200] >= per_minute
    assert clients.unanswered == []
    stored = server.stored_ids()
    assert stored == clients.ids(200)
    assert not stored & clients.ids(429)


POSTGRES_URL = os.environ.get("TRACEFIX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/filing.db"
        return
    import psycopg

    server, _, _ = POSTGRES_URL.rpartition("/")
    name = f"tracefix_filing_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL is not reachable")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _crash(where: str) -> dict[str, object]:
    """An error raised at ``where``: one fingerprint per place."""
    payload = event_payload(uuid.uuid4().hex, message=f"crash {uuid.uuid4().hex[:6]}")
    payload["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] = where
    return payload


@pytest.fixture
def app_on(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The server's app on ``database_url``, fixes left to be started by hand."""
    forget_cached_projects()
    config = ServerConfig.from_env({}, data_dir=tmp_path / "data", database_url=database_url)
    app = create_app(config)
    state(app).jobs.auto_fix = False  # type: ignore[attr-defined]
    yield app
    state(app).close()
    forget_cached_projects()


def test_every_acknowledged_event_is_counted_once_in_its_issue(app_on: Flask) -> None:
    app = app_on
    with state(app).db.write_session() as session:
        created = create_project(session, "shop")
        project_id, key = created.id, created.public_key
    path = f"/api/{project_id}/envelope/"

    def post(payload: dict[str, object], client: object = None) -> int:
        response = (client or app.test_client()).post(  # type: ignore[attr-defined]
            path, data=envelope(payload), headers=auth(key)
        )
        return int(response.status_code)

    # Two issues, made by the digest; then one of them is resolved.
    assert post(_crash("open") | {"release": "r1"}) == 200
    assert post(_crash("fixed") | {"release": "r1"}) == 200
    assert state(app).jobs.wait_digested(30)  # type: ignore[attr-defined]
    with state(app).db.write_session() as session:
        fixed = session.scalars(select(Issue).where(Issue.culprit.endswith("in fixed"))).one()
        fixed.status, fixed.resolved_at = "resolved", utcnow()
        fixed_id = fixed.id

    # Eight clients at once: events of both and of a new one, over two releases, each sent twice
    # (an SDK retrying after a lost answer). The open issue's are filed by the intake; the first
    # of the resolved one goes to the digest, which reopens it as regressed, and the first of
    # the new one too, which makes its issue; the intake files those after that, while the
    # digest may still be counting earlier ones in the same issue.
    sent: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def send(number: int) -> None:
        client = app.test_client()
        for n in range(12):
            where, release = ("open", "fixed", "new")[n % 3], f"r{1 + (n + number) % 2}"
            payload = _crash(where) | {"release": release}
            assert post(payload, client) == 200
            assert post(payload, client) == 200
            with lock:
                sent[(where, release)] += 1

    clients = [threading.Thread(target=send, args=(n,)) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(120)
    assert sum(sent.values()) == CLIENTS * 12
    assert state(app).jobs.wait_digested(30)  # type: ignore[attr-defined]

    with state(app).db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2 + CLIENTS * 12
        assert session.scalar(select(func.count()).where(Event.issue_id.is_(None))) == 0
        issues = {i.culprit.rpartition(" in ")[2]: i for i in session.scalars(select(Issue))}
        assert set(issues) == {"open", "fixed", "new"}
        assert issues["fixed"].id == fixed_id and issues["fixed"].status == "regressed"
        for where, issue in issues.items():
            first = 0 if where == "new" else 1
            expected = first + sum(n for (place, _), n in sent.items() if place == where)
            assert issue.event_count == expected
            events = select(func.count()).where(Event.issue_id == issue.id)
            assert session.scalar(events) == expected
            releases = {
                row.release: row.event_count
                for row in session.scalars(
                    select(IssueRelease).where(IssueRelease.issue_id == issue.id)
                )
            }
            assert releases == {"r1": first + sent[(where, "r1")], "r2": sent[(where, "r2")]}


def test_the_digest_waits_for_the_intakes_counts_instead_of_overwriting_them(
    database_url: str,
) -> None:
    """The digest counts an event stored before its issue existed while the intake, in a
    transaction of its own, counts a newer one in the same issue: both counts must stay."""
    db = Database(database_url)
    db.upgrade()
    try:
        with db.write_session() as session:
            project_id = create_project(session, "shop").id
        first = _crash("racing")
        payload = json.dumps(first).encode()
        incoming = incoming_event(payload, None)
        store_undigested(db, project_id, payload, uuid.uuid4().hex)
        digest_pending(db)  # makes the issue
        store_undigested(db, project_id, payload, uuid.uuid4().hex)  # before the issue existed

        intake_counted = threading.Event()

        def intake_commits_slowly() -> None:
            with db.writing() as connection:
                stored = store_events(connection, [(project_id, incoming)], utcnow())
                assert stored.filed == 1
                intake_counted.set()
                time.sleep(1.0)  # the digest reads the issue meanwhile, or waits for it

        intake = threading.Thread(target=intake_commits_slowly)
        intake.start()
        assert intake_counted.wait(30)
        assert digest_pending(db).events == 1
        intake.join(30)

        with db.session() as session:
            (issue,) = session.scalars(select(Issue))
            assert issue.event_count == 3
            assert session.scalar(select(func.sum(IssueRelease.event_count))) == 3
    finally:
        db.dispose()


def store_undigested(db: Database, project_id: int, payload: bytes, event_id: str) -> None:
    with db.write_session() as session:
        session.add(
            Event(
                project_id=project_id,
                event_id=event_id,
                payload=payload,
                received_at=utcnow(),
                release="r1",
            )
        )


def test_a_batch_is_stored_filed_and_committed_at_once(database_url: str) -> None:
    """What the intake's one statement on PostgreSQL (four on SQLite) must do for a batch:
    store every new event in arrival order, skip a repeated id, file the events of an open
    issue in it (counted once each), and leave those of a resolved issue, or of no fingerprint,
    to the digest; all committed when the block ends."""
    db = Database(database_url)
    db.upgrade()
    try:
        with db.write_session() as session:
            project_id = create_project(session, "shop").id
        for where in ("open", "resolved"):
            store_undigested(db, project_id, json.dumps(_crash(where)).encode(), uuid.uuid4().hex)
        digest_pending(db)
        with db.write_session() as session:
            resolved = session.scalars(
                select(Issue).where(Issue.culprit.endswith("resolved"))
            ).one()
            resolved.status, resolved.resolved_at = "resolved", utcnow()

        def incoming(where: str, **extra: str) -> IncomingEvent:
            return incoming_event(json.dumps(_crash(where) | extra).encode(), None)

        first = incoming("open", release="r1")
        batch = [
            first,
            incoming("open", release="r2", environment="staging"),
            first,
            incoming("resolved"),
            IncomingEvent(uuid.uuid4().hex, b"{}", None, None, None),
            incoming("open"),
        ]
        writer = EventWriter(db)
        try:
            stored = writer.store([(project_id, e) for e in batch], utcnow())
        finally:
            writer.close()
        assert (stored.inserted, stored.filed, stored.for_the_digest) == (5, 3, 2)

        with db.session() as session:
            ids = session.scalars(select(Event.event_id).order_by(Event.id)).all()
            assert ids[2:] == [e.event_id for n, e in enumerate(batch) if n != 2]
            open_issue = session.scalars(
                select(Issue).where(Issue.culprit.endswith(" in open"))
            ).one()
            assert open_issue.event_count == 4
            filed = select(func.count()).where(Event.issue_id == open_issue.id, Event.digested)
            assert session.scalar(filed) == 4
            assert session.scalar(select(func.count()).where(Event.digested.is_(False))) == 2
            releases = {
                (row.release, row.environment): row.event_count
                for row in session.scalars(
                    select(IssueRelease).where(IssueRelease.issue_id == open_issue.id)
                )
            }
            assert releases == {("r1", ""): 2, ("r2", "staging"): 1, ("", ""): 1}
    finally:
        db.dispose()


def test_a_refused_batch_stores_nothing_and_holds_no_lock(database_url: str) -> None:
    """A batch the database refuses (one of its events names no project) raises, stores none
    of its events, and leaves the database writable: the writer's transaction is over, and a
    new writer stores the next batch."""
    db = Database(database_url)
    db.upgrade()
    try:
        with db.write_session() as session:
            project_id = create_project(session, "shop").id
        good = incoming_event(json.dumps(_crash("open")).encode(), None)
        other = incoming_event(json.dumps(_crash("open")).encode(), None)
        writer = EventWriter(db)
        with pytest.raises(Exception, match="(?i)foreign key"):
            writer.store([(project_id, good), (project_id + 1000, other)], utcnow())
        writer.discard()
        with db.write_session() as session:
            assert session.scalar(select(func.count()).select_from(Event)) == 0
        writer = EventWriter(db)
        try:
            assert writer.store([(project_id, good)], utcnow()).inserted == 1
        finally:
            writer.close()
        with db.session() as session:
            assert session.scalars(select(Event.event_id)).all() == [good.event_id]
    finally:
        db.dispose()


def test_the_intake_waits_for_an_issue_being_changed_and_files_on_its_new_state(
    database_url: str,
) -> None:
    """Another transaction (the digest counting, a person resolving) holds two issues: the
    intake's batch waits for it, then counts on top of its counts, and leaves the events of the
    issue it resolved to the digest."""
    db, other = Database(database_url), Database(database_url)
    db.upgrade()
    try:
        with db.write_session() as session:
            project_id = create_project(session, "shop").id
        for where in ("counted", "resolved"):
            store_undigested(db, project_id, json.dumps(_crash(where)).encode(), uuid.uuid4().hex)
        digest_pending(db)
        with db.session() as session:
            issues = {i.culprit.rpartition(" in ")[2]: i.id for i in session.scalars(select(Issue))}
        batch = [
            (project_id, incoming_event(json.dumps(_crash(where)).encode(), None))
            for where in ("counted", "counted", "resolved")
        ]

        stored: list[StoredEvents] = []

        def intake() -> None:
            writer = EventWriter(db)
            try:
                stored.append(writer.store(batch, utcnow()))
            finally:
                writer.close()

        with other.writing() as holding:
            holding.execute(
                update(Issue).where(Issue.id == issues["counted"]).values(event_count=10)
            )
            holding.execute(
                update(Issue)
                .where(Issue.id == issues["resolved"])
                .values(status="resolved", resolved_at=utcnow())
            )
            waiting = threading.Thread(target=intake)
            waiting.start()
            waiting.join(1.0)
            assert waiting.is_alive() and not stored
        waiting.join(30)

        assert stored == [StoredEvents(inserted=3, filed=2)]
        with db.session() as session:
            counts = {
                row.id: row.event_count
                for row in session.execute(select(Issue.id, Issue.event_count))
            }
            assert counts == {issues["counted"]: 12, issues["resolved"]: 1}
            assert session.scalar(select(func.count()).where(Event.digested.is_(False))) == 1
    finally:
        other.dispose()
        db.dispose()
