"""The database edge: the engine, sessions, and migrations.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, which
is what lets the intake acknowledge an event after its commit. PostgreSQL is durable at commit
by default.

SQLite has one writer at a time, and a writer that finds the lock taken waits in SQLite's busy
handler, which sleeps and polls (1, 2, 5 ... 100 ms): the intake, waiting behind a digest
transaction of the same process, would answer tens to hundreds of milliseconds late. So the
threads of one process take a Python lock before they begin a write transaction, and the next
writer starts as soon as the last one commits; the busy handler is left to other processes.
A server also checkpoints the WAL on a thread of its own (``checkpoint_in_background``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextlib import contextmanager
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
logger = logging.getLogger("tracefix.server")


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is off (see _sqlite_pragmas): BEGIN is ours, so
        # a writer can take the write lock up front (BEGIN IMMEDIATE) instead of failing to
        # upgrade a read lock under contention (SQLAlchemy docs, "Serializable isolation").
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


class _Checkpointer:
    """Checkpoints a SQLite database's WAL every ``interval`` seconds, on its own connection.

    ``PASSIVE`` checkpoints never wait for, or block, a reader or a writer, so they copy the WAL
    into the database while the process goes on writing. But a WAL written to without a pause
    is never checkpointed to its very end, and only a complete checkpoint lets the next write
    transaction start it over from the top: it would grow without end. So once it holds over
    ``restart_pages``, a checkpoint runs holding ``write_lock``: it copies the little written
    since the last one, and the WAL starts over (its file is reused, not truncated, which also
    spares the commits' fsyncs the cost of growing a file).
    """

    def __init__(
        self,
        engine: Engine,
        write_lock: AbstractContextManager[object],
        interval: float,
        restart_pages: int,
    ) -> None:
        self.engine = engine
        self.write_lock = write_lock
        self.interval = interval
        self.restart_pages = restart_pages
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracefix.checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Checked out for the thread's life: the pool lends it to no one else meanwhile.
        checked_out: Any = None
        while not self._stopped.wait(self.interval):
            try:
                if checked_out is None:
                    checked_out = self.engine.raw_connection()
                connection = checked_out.driver_connection
                checkpoint = "PRAGMA wal_checkpoint(PASSIVE)"
                _busy, wal_pages, _copied = connection.execute(checkpoint).fetchone()
                if wal_pages > self.restart_pages:
                    with self.write_lock:
                        connection.execute(checkpoint).fetchall()
            except Exception as exc:  # the next round tries again, on a new connection
                logger.warning("tracefix: the WAL checkpoint failed: %s", exc)
                if checked_out is not None:
                    checked_out.invalidate()
                checked_out = None
        if checked_out is not None:
            checked_out.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(10)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self.write_sessions = sessionmaker(self.writer, expire_on_commit=False)
        self.write_lock: AbstractContextManager[object] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )
        self._checkpointer: _Checkpointer | None = None

    def checkpoint_in_background(self, interval: float = 0.25, restart_pages: int = 16384) -> None:
        """Move SQLite's WAL checkpoints off the commits, onto a thread of their own.

        By default the commit that grows the WAL past 1,000 pages (4 MiB, half a second of
        events under load) also copies them into the database file and fsyncs it before it
        returns, and every request waiting on that group commit waits with it (tens to hundreds
        of milliseconds here). From now on commits only append to the WAL and fsync it; the
        thread checkpoints, and holds the writers up only to start the WAL over, once it is
        past ``restart_pages`` (64 MiB). Pooled connections opened before are closed, so that
        none of them checkpoints on commit. Nothing changes for PostgreSQL or an in-memory
        database.
        """
        if self._checkpointer is not None or self.engine.dialect.name != "sqlite":
            return
        if self.engine.url.database in (None, "", ":memory:"):
            return
        event.listen(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()
        self._checkpointer = _Checkpointer(self.engine, self.write_lock, interval, restart_pages)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends, and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """``session`` for a transaction that will write: it holds SQLite's write lock from
        its start, so two writers queue instead of one failing with "database is locked"."""
        with self.write_lock, self.write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def writing(self, connection: Connection | None = None) -> Iterator[Connection]:
        """A Core connection in a write transaction, for bulk inserts: ``connection`` (from
        ``writer.connect()``, kept by a caller that writes often: no pool check-out, and on
        PostgreSQL no ping, per transaction), else one from the pool."""
        with self.write_lock:
            if connection is None:
                with self.writer.begin() as pooled:
                    yield pooled
            else:
                with connection.begin():
                    yield connection

    def upgrade(self) -> None:
        upgrade(self.engine)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``: at start, and by ``tracefix db upgrade``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_parent(url: str) -> None:
    """Create the directory of a SQLite database file."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
