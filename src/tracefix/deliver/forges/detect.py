"""From a git remote URL to the forge client for its repository.

A remote is written the ways git accepts: ``https://host/owner/repo.git``, with a port or
credentials (dropped here, never kept), ``ssh://git@host:2222/owner/repo.git``, or scp-like
``git@host:owner/repo.git``. github.com, gitlab.com and codeberg.org are known; any other host
needs its kind, from ``kind=``, from ``hosts={"git.example.com": "gitea"}``, or from an
``api_url`` ending in ``/api/v3`` (GitHub Enterprise), ``/api/v4`` (GitLab) or ``/api/v1``
(Gitea, Forgejo).

GitLab groups nest, so its project path is the whole path. On GitHub and Gitea a repository is
always ``owner/name``: more segments in an https URL are the path the server is served under,
and become part of the default API URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from tracefix.deliver.forges.base import Forge
from tracefix.deliver.forges.gitea import Gitea
from tracefix.deliver.forges.github import GITHUB_API_URL
from tracefix.deliver.forges.github import GitHub
from tracefix.deliver.forges.gitlab import GitLab
from tracefix.deliver.forges.http import DEFAULT_MAX_RATE_LIMIT_WAIT
from tracefix.deliver.forges.http import DEFAULT_TIMEOUT
from tracefix.errors import DeliveryError

ForgeKind = Literal["github", "gitlab", "gitea", "forgejo"]

KNOWN_HOSTS: Mapping[str, ForgeKind] = {
    "github.com": "github",
    "gitlab.com": "gitlab",
    "codeberg.org": "forgejo",
}
_API_SUFFIXES: Mapping[str, ForgeKind] = {
    "/api/v3": "github",
    "/api/v4": "gitlab",
    "/api/v1": "gitea",
}
#: ``[user@]host:path``, git's scp-like syntax: no scheme, and a colon before any slash.
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


@dataclass(frozen=True)
class RemoteLocation:
    """Where a git remote points: the host, and the repository's path on it."""

    #: ``https``, ``http`` or ``ssh``.
    scheme: str
    host: str
    #: The web port for https and http remotes; ``None`` for ssh (its port is not the web's).
    port: int | None
    #: Without the ``.git`` suffix and the slashes around it: ``group/sub/project``.
    path: str

    @property
    def web_origin(self) -> str:
        """``https://host[:port]``: where the forge's web pages and API are served."""
        scheme = "http" if self.scheme == "http" else "https"
        return f"{scheme}://{self.host}" + (f":{self.port}" if self.port else "")


def parse_remote_url(url: str) -> RemoteLocation:
    """The host and repository path of a git remote URL; ``DeliveryError`` for a local path."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme in {"git+ssh", "ssh+git"}:
            scheme = "ssh"
        if scheme not in {"https", "http", "ssh"}:
            raise DeliveryError(f"{_safe(text)} is not a forge remote (scheme {scheme or '?'})")
        try:
            port = parts.port
        except ValueError as exc:
            raise DeliveryError(f"{_safe(text)} has an invalid port") from exc
        host, path = parts.hostname or "", parts.path
        if scheme == "ssh":
            port = None
    else:
        match = _SCP_LIKE.match(text)
        if match is None:
            raise DeliveryError(f"{_safe(text)} is a local path, not a forge remote")
        scheme, host, port, path = "ssh", match["host"], None, match["path"]
    path = path.strip("/").removesuffix(".git").strip("/")
    if not host:
        raise DeliveryError(f"{_safe(text)} names no host")
    if path.count("/") < 1 or "" in path.split("/"):
        raise DeliveryError(f"{_safe(text)} does not name an owner and a repository")
    return RemoteLocation(scheme, host.lower().removeprefix("www."), port, path)


def forge_for(
    remote_url: str,
    kind: ForgeKind | None = None,
    api_url: str | None = None,
    *,
    token: str,
    hosts: Mapping[str, ForgeKind] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
) -> Forge:
    """The forge client for the repository ``remote_url`` points at.

    ``hosts`` adds self-hosted forges to the known ones; ``api_url`` overrides the API address
    (a GitLab served under a path, a fake forge in tests). ``DeliveryError`` when the kind
    cannot be told or the URL names no repository.
    """
    location = parse_remote_url(remote_url)
    resolved = kind or _kind_of(location.host, hosts, api_url)
    if resolved is None:
        raise DeliveryError(
            f"cannot tell which forge {location.host} runs; pass kind='github', 'gitlab' "
            "or 'gitea', or add the host to hosts"
        )
    if resolved == "gitlab":
        return GitLab(
            _gitlab_project_path(location, api_url),
            api_url=api_url or f"{location.web_origin}/api/v4",
            token=token,
            timeout=timeout,
            max_rate_limit_wait=max_rate_limit_wait,
        )
    *prefix, owner, name = location.path.split("/")
    if prefix and (location.scheme == "ssh" or location.host == "github.com"):
        raise DeliveryError(f"{_safe(remote_url)} does not name an owner/repository")
    served_under = "".join(f"/{segment}" for segment in prefix)
    if resolved == "github":
        if location.host == "github.com":
            default = GITHUB_API_URL
        else:
            default = f"{location.web_origin}{served_under}/api/v3"
        return GitHub(
            owner,
            name,
            api_url=api_url or default,
            token=token,
            timeout=timeout,
            max_rate_limit_wait=max_rate_limit_wait,
        )
    if resolved in {"gitea", "forgejo"}:
        return Gitea(
            owner,
            name,
            api_url=api_url or f"{location.web_origin}{served_under}/api/v1",
            token=token,
            timeout=timeout,
            max_rate_limit_wait=max_rate_limit_wait,
        )
    raise DeliveryError(f"unknown forge kind {resolved!r}; use github, gitlab, gitea or forgejo")


def _kind_of(
    host: str, hosts: Mapping[str, ForgeKind] | None, api_url: str | None
) -> ForgeKind | None:
    configured = {name.lower(): kind for name, kind in (hosts or {}).items()}
    found = configured.get(host) or KNOWN_HOSTS.get(host)
    if found is None and api_url is not None:
        path = urlsplit(api_url).path.rstrip("/")
        found = next(
            (kind for suffix, kind in _API_SUFFIXES.items() if path.endswith(suffix)), None
        )
    return found


def _gitlab_project_path(location: RemoteLocation, api_url: str | None) -> str:
    """The project path, less the path a self-managed GitLab is served under, if any."""
    if api_url is None or location.scheme == "ssh":
        return location.path
    served_under = urlsplit(api_url).path.rstrip("/").removesuffix("/api/v4").strip("/")
    if served_under and location.path.startswith(f"{served_under}/"):
        return location.path.removeprefix(f"{served_under}/")
    return location.path


def _safe(url: str) -> str:
    """``url`` without the credentials a remote URL may carry (``https://user:token@host``)."""
    return re.sub(r"//[^/@]*@", "//", url)
