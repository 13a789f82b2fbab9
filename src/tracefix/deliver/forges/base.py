"""What every forge client offers the server: open a pull request once, then follow its checks.

The types are plain frozen dataclasses and string enums, so the server can store them, compare
them and turn them into JSON for its dashboard without knowing which forge they came from.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import ClassVar

from tracefix.deliver.forges.http import ApiClient
from tracefix.errors import DeliveryError


class CheckState(StrEnum):
    """One check's state, in the few words a dashboard needs."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    #: Ran or was skipped without a verdict (skipped, neutral, a job allowed to fail, a manual
    #: job nobody started): it neither blocks nor vouches for the change.
    NEUTRAL = "neutral"


class CIState(StrEnum):
    """All of a pull request's checks taken together."""

    #: No check reported anything (yet, or the project has no CI).
    NONE = "none"
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class PullRequestSpec:
    """The pull request to open: ``head`` is the pushed branch, ``base`` the one to merge into.

    ``base=None`` means the repository's default branch, read from the forge.
    """

    head: str
    title: str
    body: str = ""
    base: str | None = None
    draft: bool = False


@dataclass(frozen=True)
class PullRequest:
    """A pull (GitHub, Gitea, Forgejo) or merge (GitLab) request as the forge reported it."""

    forge: str
    repository: str
    #: The number people see: GitHub's and Gitea's ``number``, GitLab's ``iid`` (``!12``).
    number: int
    url: str
    head: str
    base: str
    #: The commit the checks run on, when the forge said it.
    head_sha: str | None
    #: ``open``, ``closed`` or ``merged``.
    state: str
    #: False when the request already existed and this call only found it.
    created: bool
    #: Once merged: the commit the merge put on the base branch (a merge, squash or rebase
    #: commit), which the releases that ship the fix descend from.
    merge_commit_sha: str | None = None


@dataclass(frozen=True)
class Check:
    """One CI check on a commit: a GitHub check run or status, a GitLab job, a Gitea status."""

    name: str
    state: CheckState
    #: The forge's own word for it (``timed_out``, ``failed (allowed to fail)``, ``warning``).
    detail: str
    url: str | None = None
    description: str = ""


def summarize(checks: Sequence[Check]) -> CIState:
    """Any failure fails; else anything still running is pending; neutral checks don't count."""
    if not checks:
        return CIState.NONE
    states = {check.state for check in checks}
    if CheckState.FAILURE in states:
        return CIState.FAILURE
    if CheckState.PENDING in states:
        return CIState.PENDING
    return CIState.SUCCESS


class Forge(ABC):
    """A repository on one forge, reached through its REST API with one token.

    ``open_pull_request`` is idempotent: it first looks for an open request from the same head
    to the same base, and a duplicate the forge reports while creating (two runs racing) is
    answered with the request that won, so a re-run never opens a second one.
    """

    kind: ClassVar[str]
    display_name: ClassVar[str]
    #: The user name that goes with the token when git pushes over https
    #: (``tracefix.deliver.push.push_branch(..., username=forge.git_username)``).
    git_username: ClassVar[str]

    def __init__(self, repository: str, api: ApiClient) -> None:
        self.repository = repository
        self.api = api

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.repository} at {self.api.base_url}>"

    @abstractmethod
    def default_branch(self) -> str:
        """The repository's default branch, as the forge has it configured."""

    @abstractmethod
    def find_open_pull_request(self, head: str, base: str) -> PullRequest | None:
        """The open request from branch ``head`` of this repository into ``base``, if any."""

    @abstractmethod
    def get_pull_request(self, number: int) -> PullRequest:
        """The request numbered ``number``, as it is now (its head commit may have moved)."""

    @abstractmethod
    def checks(self, pull_request: PullRequest) -> list[Check]:
        """The latest checks on the request's head commit (``get_pull_request`` refreshes it)."""

    @abstractmethod
    def _create_pull_request(self, spec: PullRequestSpec, base: str) -> PullRequest:
        """Create the request; a duplicate reported by the forge returns the existing one."""

    def open_pull_request(self, spec: PullRequestSpec) -> PullRequest:
        """Open the request ``spec`` describes, or return the open one it already has."""
        base = spec.base or self.default_branch()
        if spec.head == base:
            raise DeliveryError(
                f"{self.display_name}: cannot open a pull request from {base} into itself"
            )
        existing = self.find_open_pull_request(spec.head, base)
        if existing is not None:
            return existing
        return self._create_pull_request(spec, base)

    def ci_state(self, pull_request: PullRequest) -> CIState:
        """The summary of ``checks(pull_request)``."""
        return summarize(self.checks(pull_request))

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()

    def __enter__(self) -> Forge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
