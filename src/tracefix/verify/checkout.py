"""The project's repository at a release, for a job that starts from an event, not a checkout.

The server is given a repository (a local path or a git URL) and the release an SDK reported. It
needs a tree at that release to diagnose and verify in, without touching the repository it was
given: a developer's checkout, or a remote many jobs read at once.

Every source is mirrored into a cache (``git clone --mirror``; a local path is cloned with
hard-linked objects, so its ``.git`` is only read), keyed by a hash of the source and guarded by
a lock so two jobs never fetch into one mirror at once. The mirror is fetched again only when
it cannot answer: the release is not in it, names a branch (branches move), or no release was
given (the default branch now). Each checkout is a detached ``git worktree`` of the mirror in a
folder of its own, removed on ``close()``.

Credentials in an ``https://user:token@host/...`` URL never reach the disk: the mirror stores
the URL without them, and git gets them from a credential helper given on its command line that
reads them from its environment, with the user's own helpers (``store`` would save them) off.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from tracefix import _process
from tracefix.errors import CheckoutError
from tracefix.errors import TracefixError
from tracefix.git import NO_HOOKS

#: Seconds one git command may take; a clone or fetch of a large repository is the slow one.
GIT_TIMEOUT = 600.0
#: Seconds to wait for another job's clone or fetch of the same mirror before giving up.
LOCK_TIMEOUT = GIT_TIMEOUT + 60.0
URL_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})
#: ``user@host:path``, the scp-like syntax git reads as ssh.
SCP_LIKE = re.compile(r"^[\w.+-]+@[\w.-]+:(?!//)")
#: A name that may be a tag or branch. Anything else (``HEAD~1``, ``:/msg``, ``@{-1}``) is git
#: revision syntax that an SDK's release string must not be able to use.
REF_NAME = re.compile(r"^(?!.*\.\.)(?!.*//)(?!.*\.lock$)[A-Za-z0-9_][A-Za-z0-9._+@/-]*(?<![./])$")
#: Seven hex digits at least: a shorter one is more likely a build number than a commit.
SHORT_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
#: Variables of git's own that choose how to connect, never which repository.
GIT_TRANSPORT_VARIABLES = (
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
)
_USERNAME_VARIABLE = "TRACEFIX_GIT_USERNAME"
_PASSWORD_VARIABLE = "TRACEFIX_GIT_PASSWORD"
_CREDENTIAL_HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo "username=${_USERNAME_VARIABLE}"; '
    f'echo "password=${_PASSWORD_VARIABLE}"; }}; f'
)


@dataclass
class Checkout:
    """A tree of the project at one commit, in a folder of its own until ``close()``.

    ``resolved`` says what the release turned out to be: ``refs/tags/v1.2``, ``refs/heads/main``,
    or the commit itself when it was given as a (short) sha or not at all.
    """

    path: Path
    commit: str
    source: str
    revision: str | None
    resolved: str
    _mirror: Path
    _folder: Path

    def close(self) -> None:
        """Remove the tree and the mirror's record of it; safe to call twice."""
        if not self._folder.exists():
            return
        _git(self._mirror, "worktree", "remove", "--force", "--force", str(self.path))
        shutil.rmtree(self._folder, ignore_errors=True)
        _git(self._mirror, "worktree", "prune")

    def __enter__(self) -> Checkout:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class _Source:
    """Where a repository comes from: what git is given, and what may be shown or stored."""

    fetch_url: str
    shown: str
    credentials: Mapping[str, str]
    name: str


class RepositoryCache:
    """Mirrors of the projects' repositories under ``cache_dir``, and checkouts made from them.

    ``timeout`` limits each git command (seconds). Safe to share between threads and processes:
    each mirror has its own lock file.
    """

    def __init__(self, cache_dir: str | Path, *, timeout: float = GIT_TIMEOUT) -> None:
        self.cache_dir = Path(cache_dir).resolve()
        self.timeout = timeout

    def checkout(self, source: str | Path, revision: str | None = None) -> Checkout:
        """A tree of ``source`` at ``revision``; close it (or use ``with``) when done.

        ``source`` is a local repository (any folder of it) or a git URL (https, ssh, git, file,
        ``user@host:path``). ``revision`` is a release string: a full or short sha, a tag or
        branch, ``name@version`` or ``v1.2``; ``None`` is the default branch as it is now.
        Raises ``CheckoutError`` when the source cannot be read or the release names nothing.
        """
        where = _parse_source(source)
        key = hashlib.sha256(where.shown.encode()).hexdigest()[:24]
        mirrors = self.cache_dir / "mirrors"
        mirrors.mkdir(parents=True, exist_ok=True)
        mirror = mirrors / f"{key}.git"
        with exclusive_lock(mirrors / f"{key}.lock", timeout=LOCK_TIMEOUT, what=where.shown):
            if not (mirror / "HEAD").is_file():
                self._clone(where, mirror)
                fetched = True
            else:
                fetched = False
            commit, resolved = self._resolve(where, mirror, revision, fetched)
        return self._add_worktree(where, mirror, commit, revision, resolved)

    def _clone(self, where: _Source, mirror: Path) -> None:
        """Clone into a temporary folder renamed into place, so no half clone is ever used."""
        for leftover in mirror.parent.glob(f"{mirror.name}.*"):
            shutil.rmtree(leftover, ignore_errors=True)  # a clone killed with its job
        staging = Path(tempfile.mkdtemp(prefix=f"{mirror.name}.", dir=mirror.parent))
        try:
            result = self._git_remote(
                where,
                mirror.parent,
                "clone",
                "--mirror",
                "--quiet",
                "--",
                where.fetch_url,
                str(staging / "repo.git"),
            )
            if not result.ok:
                raise CheckoutError(
                    f"cannot clone {where.shown}: {_last_line(result.stderr, where)}"
                )
            os.replace(staging / "repo.git", mirror)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _fetch(self, where: _Source, mirror: Path) -> None:
        result = self._git_remote(
            where,
            mirror,
            "fetch",
            "--prune",
            "--quiet",
            "--no-write-fetch-head",
            where.fetch_url,
            "+refs/*:refs/*",
        )
        if not result.ok:
            raise CheckoutError(f"cannot fetch {where.shown}: {_last_line(result.stderr, where)}")

    def _resolve(
        self, where: _Source, mirror: Path, revision: str | None, fetched: bool
    ) -> tuple[str, str]:
        if revision is None:
            return self._default_branch(where, mirror)
        revision = revision.strip()
        candidates = release_candidates(revision)
        if not candidates:
            raise CheckoutError(f"release {revision!r} is not a commit, tag or branch name")
        found = _find(mirror, candidates)
        if not fetched and (found is None or found[1].startswith("refs/heads/")):
            self._fetch(where, mirror)
            found = _find(mirror, candidates)
        if found is None:
            tried = ", ".join(candidates)
            raise CheckoutError(
                f"release {revision!r} is not a commit, tag or branch of {where.shown} "
                f"(tried {tried})"
            )
        return found

    def _default_branch(self, where: _Source, mirror: Path) -> tuple[str, str]:
        """The commit the source's HEAD points at now, and the branch it is, when it is one."""
        result = self._git_remote(where, mirror, "ls-remote", "--symref", where.fetch_url, "HEAD")
        if not result.ok:
            raise CheckoutError(f"cannot read {where.shown}: {_last_line(result.stderr, where)}")
        commit, branch = "", ""
        for line in result.stdout.splitlines():
            value, _, name = line.partition("\t")
            if name != "HEAD":
                continue
            if value.startswith("ref: "):
                branch = value.removeprefix("ref: ")
            else:
                commit = value
        if not commit:
            raise CheckoutError(f"{where.shown} has no default branch (an empty repository?)")
        if _commit_of(mirror, commit) is None:
            self._fetch(where, mirror)
        if branch:
            _git(mirror, "symbolic-ref", "HEAD", branch)
        if _commit_of(mirror, commit) is None:
            raise CheckoutError(f"the default branch of {where.shown} was not fetched ({commit})")
        return commit, branch or commit

    def _add_worktree(
        self, where: _Source, mirror: Path, commit: str, revision: str | None, resolved: str
    ) -> Checkout:
        trees = self.cache_dir / "checkouts"
        trees.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="checkout-", dir=trees))
        path = folder / where.name
        checkout = Checkout(path, commit, where.shown, revision, resolved, mirror, folder)
        try:
            result = _git(
                mirror,
                *NO_HOOKS,
                "worktree",
                "add",
                "--detach",
                "--quiet",
                str(path),
                commit,
                timeout=self.timeout,
            )
            if not result.ok:
                raise CheckoutError(
                    f"cannot check out {commit[:12]} of {where.shown}: "
                    f"{_last_line(result.stderr, where)}"
                )
        except BaseException:
            checkout.close()
            raise
        return checkout

    def _git_remote(self, where: _Source, cwd: Path, *args: str) -> _process.Result:
        """Run a git command that talks to ``where``, its credentials in the environment only."""
        config: tuple[str, ...] = ()
        if where.credentials:
            config = ("-c", "credential.helper=", "-c", f"credential.helper={_CREDENTIAL_HELPER}")
        return _git(cwd, *config, *args, extra_env=where.credentials, timeout=self.timeout)


def release_candidates(release: str) -> list[str]:
    """The names a release string may stand for, the literal one first.

    SDKs report ``sha``, ``v1.2``, ``1.2`` or Sentry's ``name@version+build``; the tags of the
    same release are often ``v1.2`` or ``1.2``, and the build part may be the commit.
    """
    names = [release]
    version = release.rpartition("@")[2]
    names.append(version)
    plain, _, build = version.partition("+")
    names.append(plain)
    for name in (version, plain):
        if name[:1] in ("v", "V") and name[1:2].isdigit():
            names.append(name[1:])
        elif name[:1].isdigit():
            names.append(f"v{name}")
    names = [name for name in names if REF_NAME.match(name) or SHORT_SHA.match(name)]
    if SHORT_SHA.match(build):
        names.append(build)
    return list(dict.fromkeys(names))


def _find(mirror: Path, candidates: list[str]) -> tuple[str, str] | None:
    """The first candidate that is a tag, a branch or a commit, as (commit, what it was)."""
    for name in candidates:
        refs = [f"refs/tags/{name}", f"refs/heads/{name}"] if REF_NAME.match(name) else []
        for ref in refs:
            commit = _commit_of(mirror, ref)
            if commit is not None:
                return commit, ref
        if SHORT_SHA.match(name):
            commit = _commit_of(mirror, name.lower())
            if commit is not None:
                return commit, commit
    return None


def _commit_of(mirror: Path, name: str) -> str | None:
    result = _git(
        mirror, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"
    )
    return result.stdout.strip() if result.ok else None


def _parse_source(source: str | Path) -> _Source:
    if isinstance(source, Path):
        return _local_source(source)
    source = source.strip()
    if not source or source.startswith("-"):
        raise CheckoutError(f"{source!r} is not a repository path or git URL")
    if "://" in source:
        parts = urlsplit(source)
        if parts.scheme.lower() not in URL_SCHEMES:
            raise CheckoutError(
                f"{parts.scheme}:// is not a git URL tracefix fetches "
                f"(use one of {', '.join(sorted(URL_SCHEMES))})"
            )
        credentials: dict[str, str] = {}
        if parts.scheme.lower() in ("http", "https") and (parts.username or parts.password):
            credentials = {
                _USERNAME_VARIABLE: parts.username or "",
                _PASSWORD_VARIABLE: parts.password or "",
            }
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            if parts.port is not None:
                netloc += f":{parts.port}"
            shown = urlunsplit(parts._replace(netloc=netloc))
            return _Source(shown, shown, credentials, _repository_name(parts.path))
        return _Source(source, source, credentials, _repository_name(parts.path))
    if SCP_LIKE.match(source) and not Path(source).exists():
        return _Source(source, source, {}, _repository_name(source.partition(":")[2]))
    return _local_source(Path(source))


def _local_source(path: Path) -> _Source:
    """A local repository, read through its common git folder (worktrees share one)."""
    if not path.is_dir():
        raise CheckoutError(f"{path} is not a folder, nor a git URL")
    result = _git(path, "rev-parse", "--path-format=absolute", "--git-common-dir")
    if not result.ok:
        raise CheckoutError(f"{path.resolve()} is not inside a git repository")
    common = Path(result.stdout.strip()).resolve()
    name = common.parent.name if common.name == ".git" else common.name.removesuffix(".git")
    return _Source(str(common), str(common), {}, name or "repo")


def _repository_name(path: str) -> str:
    name = path.rstrip("/").rpartition("/")[2].removesuffix(".git")
    return name if REF_NAME.match(name) else "repo"


def _git(
    cwd: Path,
    *args: str,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT,
) -> _process.Result:
    """git in ``cwd`` with a time limit, no inherited repository and never a prompt."""
    env = _process.no_git_env()
    env.update({k: os.environ[k] for k in GIT_TRANSPORT_VARIABLES if k in os.environ})
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", **(extra_env or {})})
    return _process.run(["git", *args], cwd=cwd, env=env, timeout=timeout)


def _last_line(text: str, where: _Source) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1].removeprefix("fatal: ") if lines else "git gave no reason"
    for secret in where.credentials.values():
        if secret:
            line = line.replace(secret, "***")
    return line


@contextlib.contextmanager
def exclusive_lock(
    path: Path, *, timeout: float, what: str, error: type[TracefixError] = CheckoutError
) -> Iterator[None]:
    """Hold an ``flock`` on ``path``, waiting at most ``timeout`` seconds for another holder.

    Locks taken through separate ``open()`` calls exclude each other between threads of one
    process too, so a server running jobs in threads is covered as well as one forking workers.
    A holder that dies releases the lock with its file descriptor. Waiting longer than
    ``timeout`` raises ``error``.
    """
    deadline = time.monotonic() + timeout
    with open(path, "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise error(
                        f"another job held the lock on {what} for over {timeout:.0f} s"
                    ) from exc
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
