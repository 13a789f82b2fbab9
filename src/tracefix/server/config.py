"""The server's settings: embedded defaults, overridden by ``TRACEFIX_*`` environment variables.

With nothing set, ``tracefix serve`` keeps everything in one data directory (SQLite database,
repository and virtualenv caches, the session secret) and runs its jobs in-process. Setting
``TRACEFIX_DATABASE_URL`` (PostgreSQL) and ``TRACEFIX_BROKER_URL`` (Redis or RabbitMQ) moves
storage and jobs out, for several server processes and ``tracefix worker``\\ s.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tracefix"


def _number(env: Mapping[str, str], name: str, default: Any, kind: type) -> Any:
    """``env[name]`` as a positive ``kind``; ``ValueError`` naming the variable otherwise."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        noun = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {noun} above 0, not {text!r}")
    return value


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    database_url: str
    secret_key: str
    broker_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    bind: str = "127.0.0.1:8000"
    threads: int = 16
    #: An envelope's size on the wire, and once decompressed (Relay's defaults are larger;
    #: an error event is rarely over 100 KiB).
    max_body_bytes: int = 20 * MiB
    max_decoded_bytes: int = 50 * MiB
    max_event_bytes: int = 1 * MiB
    #: Events a project may send per minute before ``429``; None for no limit.
    events_per_minute: int | None = None
    #: Seconds a fix job's runs of the project's command or tests may take, each.
    fix_timeout: float = 600.0
    #: Seconds between looks at open pull requests' checks and at shipped fixes.
    review_interval: float = 60.0
    #: Seconds a shipped fix must stay quiet before its issue is resolved as fixed.
    fix_quiet_seconds: float = 3600.0

    @property
    def address(self) -> tuple[str, int]:
        """``bind`` as host and port (``[::1]:8000`` for IPv6); ``ValueError`` if it is not
        ``HOST:PORT``."""
        host, _, port = self.bind.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not HOST:PORT: {self.bind!r}")
        return host.strip("[]"), int(port)

    @property
    def repo_cache(self) -> Path:
        return self.data_dir / "repos"

    @property
    def env_cache(self) -> Path:
        return self.data_dir / "envs"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServerConfig:
        env = os.environ if env is None else env
        data_dir = Path(env.get("TRACEFIX_DATA_DIR") or default_data_dir(env)).expanduser()
        bind = env.get("TRACEFIX_BIND", "127.0.0.1:8000")
        quota = _number(env, "TRACEFIX_EVENTS_PER_MINUTE", None, int)
        config = cls(
            data_dir=data_dir,
            database_url=env.get("TRACEFIX_DATABASE_URL")
            or f"sqlite:///{data_dir / 'tracefix.db'}",
            secret_key=env.get("TRACEFIX_SECRET_KEY") or "",
            broker_url=env.get("TRACEFIX_BROKER_URL") or None,
            public_url=(env.get("TRACEFIX_PUBLIC_URL") or f"http://{bind}").rstrip("/"),
            bind=bind,
            threads=_number(env, "TRACEFIX_THREADS", 16, int),
            events_per_minute=quota,
            fix_timeout=_number(env, "TRACEFIX_FIX_TIMEOUT", 600.0, float),
            review_interval=_number(env, "TRACEFIX_REVIEW_INTERVAL", 60.0, float),
            fix_quiet_seconds=_number(env, "TRACEFIX_FIX_QUIET_SECONDS", 3600.0, float),
        )
        return replace(config, **overrides)

    def prepared(self) -> ServerConfig:
        """Create the data directory, and a session secret kept in it when none is given."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.secret_key:
            return self
        key_file = self.data_dir / "secret_key"
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return replace(self, secret_key=key_file.read_text().strip())
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        return replace(self, secret_key=key_file.read_text().strip())
