"""The DSN: where events go and the key that authenticates them, in Sentry's format.

``http(s)://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID``
(develop.sentry.dev/sdk/overview/#parsing-the-dsn), so an app on sentry-sdk switches to tracefix
by changing the DSN alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from tracefix import __version__

SDK_NAME = "tracefix.python"
CLIENT = f"{SDK_NAME}/{__version__}"


class InvalidDsn(ValueError):
    """The DSN is not of the form ``http(s)://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID``."""


@dataclass(frozen=True)
class Dsn:
    scheme: str
    public_key: str
    host: str
    port: int
    path: str
    project_id: str

    @classmethod
    def parse(cls, value: str) -> Dsn:
        try:
            parts = urlsplit(value.strip())
            port = parts.port
        except ValueError as exc:
            raise InvalidDsn(f"invalid DSN {value!r}: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise InvalidDsn(f"invalid DSN {value!r}: the scheme must be http or https")
        if not parts.username or not parts.hostname:
            raise InvalidDsn(f"invalid DSN {value!r}: it needs PUBLIC_KEY@HOST")
        path, _, project_id = parts.path.rstrip("/").rpartition("/")
        if not project_id.isdigit():
            raise InvalidDsn(f"invalid DSN {value!r}: it must end with a numeric project id")
        return cls(
            scheme=parts.scheme,
            public_key=parts.username,
            host=parts.hostname,
            port=port or (443 if parts.scheme == "https" else 80),
            path=path,
            project_id=project_id,
        )

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def envelope_path(self) -> str:
        return f"{self.path}/api/{self.project_id}/envelope/"

    @property
    def envelope_url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.envelope_path}"

    def auth_header(self) -> str:
        """The ``X-Sentry-Auth`` header value (no secret key: modern DSNs carry none)."""
        return f"Sentry sentry_key={self.public_key}, sentry_version=7, sentry_client={CLIENT}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.public_key}@{self.netloc}{self.path}/{self.project_id}"
