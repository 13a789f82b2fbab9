"""Push a committed fix to a project's remote as a new branch, never over anyone's work.

The server calls this after ``commit_on_new_branch`` (or with the sha of a commit it built), to
publish the fix before opening a pull request for it. The rules:

- the branch is new on the remote, or already holds exactly this commit (a re-run of the same
  delivery succeeds and changes nothing); any other commit there is someone's work and is left
  alone with a ``DeliveryError``: there is no ``--force`` anywhere;
- never ``main``, ``master`` or the remote's default branch (``git ls-remote --symref URL
  HEAD`` says which it is);
- a token for an https remote goes to git through the environment (``GIT_CONFIG_COUNT``), as an
  ``http.<origin>/.extraHeader`` that applies to that origin only: it is in no file, no
  ``.git/config``, no command line another user could list with ``ps``, and no message. A
  credential helper is switched off for the push, so a refused token cannot make git erase the
  stored credentials of whoever runs the server;
- git never prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode) and gives up on a stalled
  transfer: http below ``LOW_SPEED_BYTES`` per second for ``stall_timeout`` seconds, ssh after
  ``stall_timeout`` seconds without an answer to keep-alives or to connect. An ssh command the
  server's environment sets (``GIT_SSH_COMMAND``, ``GIT_SSH``: its keys, its known hosts) is
  used instead, as it is; the whole ls-remote or push is killed after ``timeout`` seconds;
- the project's hooks do not run (``core.hooksPath=/dev/null``, as for every tracefix git
  command).
"""

from __future__ import annotations

import base64
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tracefix.deliver.branch import DEFAULT_BRANCHES
from tracefix.errors import DeliveryError
from tracefix.git import NO_HOOKS
from tracefix.git import git

DEFAULT_STALL_TIMEOUT = 60.0
#: Seconds a whole ls-remote or push may take, whatever the transfer's pace.
DEFAULT_TIMEOUT = 600.0
LOW_SPEED_BYTES = 1000
SSH_KEEPALIVE_SECONDS = 15
REASON_CHARS = 240
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: What git says when the server answered 401 to the token: it failed, or wanted to prompt.
_AUTHENTICATION_REFUSED = re.compile(r"Authentication failed|terminal prompts disabled")


@dataclass(frozen=True)
class PushResult:
    """What the remote holds after ``push_branch``."""

    #: The remote as given, without any credentials it carried.
    remote: str
    branch: str
    commit: str
    #: False when the remote already had the branch at this commit (nothing was sent).
    created: bool
    #: The remote's default branch, when it has one (an empty repository has none).
    default_branch: str | None


def push_branch(
    repo_root: Path,
    remote: str,
    branch: str,
    *,
    commit: str | None = None,
    token: str | None = None,
    username: str = "x-access-token",
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    timeout: float = DEFAULT_TIMEOUT,
) -> PushResult:
    """Publish ``commit`` (default: the local branch ``branch``) as ``branch`` on ``remote``.

    ``remote`` is a URL or a path (a bare repository in tests). ``token`` authenticates an
    https remote, with ``username`` (a forge's ``git_username``: GitHub and Gitea take any,
    GitLab wants ``oauth2``). Raises ``DeliveryError`` with one line on every refusal.
    """
    root = Path(repo_root)
    shown = without_credentials(remote)
    if remote.startswith("-"):
        raise DeliveryError(f"{remote!r} is not a remote")
    _check_branch_name(root, branch)
    sha = _resolve_commit(root, commit or f"refs/heads/{branch}", commit is not None)
    env = transport_env(remote, token=token, username=username, stall_timeout=stall_timeout)
    secrets = [token] if token else []

    listed = git(
        "ls-remote",
        "--symref",
        remote,
        "HEAD",
        f"refs/heads/{branch}",
        cwd=root,
        env=env,
        check=False,
        timeout=timeout,
    )
    if not listed.ok:
        reason = _reason(listed.stderr, secrets)
        if token and _AUTHENTICATION_REFUSED.search(reason):
            reason = f"the token was refused ({reason})"
        raise DeliveryError(f"cannot read {shown}: {reason}")
    default_branch, existing = _parse_ls_remote(listed.stdout, branch)
    if branch == default_branch:
        raise DeliveryError(
            f"{branch} is the default branch of {shown}; tracefix only pushes a new branch"
        )
    if existing == sha:
        return PushResult(shown, branch, sha, created=False, default_branch=default_branch)
    if existing is not None:
        raise DeliveryError(
            f"branch {branch} already exists on {shown} at {existing[:12]}, not at the fix "
            f"{sha[:12]}; tracefix never overwrites a branch: pick another name"
        )

    pushed = git(
        *NO_HOOKS,
        "push",
        "--porcelain",
        remote,
        f"{sha}:refs/heads/{branch}",
        cwd=root,
        env=env,
        check=False,
        timeout=timeout,
    )
    if not pushed.ok:
        reason = _rejection(pushed.stdout) or _reason(pushed.stderr, secrets)
        raise DeliveryError(f"cannot push {branch} to {shown}: {reason}")
    created = _porcelain_flag(pushed.stdout) != "="
    return PushResult(shown, branch, sha, created=created, default_branch=default_branch)


def transport_env(
    remote: str,
    *,
    token: str | None,
    username: str = "x-access-token",
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
) -> dict[str, str]:
    """Variables for git talking to ``remote``: no prompt, stall limits, the token if any.

    ``DeliveryError`` when a token would travel over plain http to another machine.
    """
    stall_seconds = str(max(1, math.ceil(stall_timeout)))
    config: list[tuple[str, str]] = [
        ("http.lowSpeedLimit", str(LOW_SPEED_BYTES)),
        ("http.lowSpeedTime", stall_seconds),
    ]
    url = urlsplit(remote) if "://" in remote else None
    if token and url is not None and url.scheme in {"http", "https"}:
        if url.scheme == "http" and url.hostname not in LOOPBACK_HOSTS:
            raise DeliveryError(
                f"refusing to send the token over plain http to {url.hostname}; use https"
            )
        origin = f"{url.scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")
        credentials = base64.b64encode(f"{username}:{token}".encode()).decode("ascii")
        config += [
            ("credential.helper", ""),
            (f"http.{origin}/.extraHeader", f"Authorization: Basic {credentials}"),
        ]
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": str(len(config))}
    if os.environ.get("GIT_SSH_COMMAND"):
        env["GIT_SSH_COMMAND"] = os.environ["GIT_SSH_COMMAND"]
    elif os.environ.get("GIT_SSH"):
        env["GIT_SSH"] = os.environ["GIT_SSH"]
    else:
        env["GIT_SSH_COMMAND"] = _batch_ssh(stall_seconds)
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def without_credentials(remote: str) -> str:
    """``remote`` without a ``user:password@`` part, fit for messages and logs."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", remote)


def _batch_ssh(stall_seconds: str) -> str:
    alive_count = max(1, int(stall_seconds) // SSH_KEEPALIVE_SECONDS)
    return (
        f"ssh -o BatchMode=yes -o ConnectTimeout={stall_seconds} "
        f"-o ServerAliveInterval={SSH_KEEPALIVE_SECONDS} -o ServerAliveCountMax={alive_count}"
    )


def _check_branch_name(root: Path, branch: str) -> None:
    valid = git("check-ref-format", "--branch", branch, cwd=root, check=False)
    if branch.startswith("-") or not valid.ok or valid.stdout.strip() != branch:
        raise DeliveryError(f"{branch!r} is not a valid branch name")
    if branch in DEFAULT_BRANCHES:
        raise DeliveryError(f"refusing to push to {branch}; tracefix only pushes a new branch")


def _resolve_commit(root: Path, source: str, given: bool) -> str:
    found = git("rev-parse", "--verify", "--quiet", f"{source}^{{commit}}", cwd=root, check=False)
    if not found.ok:
        what = f"commit {source}" if given else f"local branch {source.removeprefix('refs/heads/')}"
        raise DeliveryError(f"no {what} in {root}; commit the fix first")
    return found.stdout.strip()


def _parse_ls_remote(output: str, branch: str) -> tuple[str | None, str | None]:
    """The default branch (from ``ref: refs/heads/X<TAB>HEAD``) and the sha of ``branch``."""
    default_branch = existing = None
    for line in output.splitlines():
        value, _, name = line.partition("\t")
        if name == "HEAD" and value.startswith("ref: refs/heads/"):
            default_branch = value.removeprefix("ref: refs/heads/")
        elif name == f"refs/heads/{branch}":
            existing = value.strip()
    return default_branch, existing


def _porcelain_flag(output: str) -> str | None:
    """The status flag of the pushed ref in ``git push --porcelain`` output (``*`` is new)."""
    for line in output.splitlines():
        if "\t" in line and line[:1] in {" ", "+", "-", "*", "!", "="}:
            return line[0]
    return None


def _rejection(output: str) -> str | None:
    """The remote's reason from a ``!`` line: "[remote rejected] (pre-receive hook declined)"."""
    for line in output.splitlines():
        if line.startswith("!") and line.count("\t") >= 2:
            return line.split("\t", 2)[2].strip()
    return None


def _reason(stderr: str, secrets: list[str]) -> str:
    """The first two lines of git's stderr that say something, without hints and credentials."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or line.startswith(("hint:", "To ")):
            continue
        lines.append(re.sub(r"^(fatal|error): ", "", line))
    reason = "; ".join(lines[:2]) or "git gave no reason"
    reason = re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s']*@", r"\1", reason)
    for secret in secrets:
        reason = reason.replace(secret, "***")
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"
