"""GitHub (and GitHub Enterprise Server) through REST API v3, version 2022-11-28.

Pull requests: ``GET /repos/{owner}/{repo}/pulls?state=open&head={owner}:{branch}&base=...``
finds an open one (GitHub's ``head`` filter needs the ``owner:`` prefix, else it is ignored),
``POST /repos/{owner}/{repo}/pulls`` creates one. A second one for the same head and base is
refused with 422 "Validation Failed" and an error "A pull request already exists for
owner:branch.", which happens only when two runs race: the list is read again and the winner
returned.

Checks are both kinds GitHub has: check runs (Actions and apps,
``GET /repos/{owner}/{repo}/commits/{sha}/check-runs``, latest run of each name) and commit
statuses (older CI services, ``GET /repos/{owner}/{repo}/commits/{sha}/status``, the latest of
each context). Both lists are paginated with ``Link`` headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tracefix.deliver.forges.base import Check
from tracefix.deliver.forges.base import CheckState
from tracefix.deliver.forges.base import Forge
from tracefix.deliver.forges.base import PullRequest
from tracefix.deliver.forges.base import PullRequestSpec
from tracefix.deliver.forges.http import DEFAULT_MAX_RATE_LIMIT_WAIT
from tracefix.deliver.forges.http import DEFAULT_TIMEOUT
from tracefix.deliver.forges.http import ApiClient
from tracefix.deliver.forges.http import error_message
from tracefix.deliver.forges.http import expect_object
from tracefix.deliver.forges.http import int_field
from tracefix.deliver.forges.http import link_next_page
from tracefix.deliver.forges.http import object_field
from tracefix.deliver.forges.http import optional_text
from tracefix.deliver.forges.http import text_field
from tracefix.errors import DeliveryError

GITHUB_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
DUPLICATE_PULL_REQUEST = "a pull request already exists"

#: Check run conclusions (GitHub's OpenAPI description lists these).
_CONCLUSIONS = {
    "success": CheckState.SUCCESS,
    "neutral": CheckState.NEUTRAL,
    "skipped": CheckState.NEUTRAL,
    "failure": CheckState.FAILURE,
    "cancelled": CheckState.FAILURE,
    "timed_out": CheckState.FAILURE,
    "action_required": CheckState.FAILURE,
    "startup_failure": CheckState.FAILURE,
    "stale": CheckState.FAILURE,
}
_STATUS_STATES = {
    "success": CheckState.SUCCESS,
    "pending": CheckState.PENDING,
    "failure": CheckState.FAILURE,
    "error": CheckState.FAILURE,
}


class GitHub(Forge):
    """A repository on github.com or on a GitHub Enterprise Server (``api_url=.../api/v3``)."""

    kind = "github"
    display_name = "GitHub"
    git_username = "x-access-token"

    def __init__(
        self,
        owner: str,
        name: str,
        *,
        token: str,
        api_url: str = GITHUB_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
    ) -> None:
        repository = f"{owner}/{name}"
        super().__init__(
            repository,
            ApiClient(
                forge=self.display_name,
                base_url=api_url,
                repository=repository,
                token=token,
                auth_headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                },
                timeout=timeout,
                max_rate_limit_wait=max_rate_limit_wait,
            ),
        )
        self.owner = owner
        self.name = name
        self._path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    def default_branch(self) -> str:
        action = f"read the repository {self.repository}"
        response = self.api.request("GET", self._path, action=action)
        return text_field(self.api.json_object(response, action), "default_branch", action)

    def find_open_pull_request(self, head: str, base: str) -> PullRequest | None:
        action = f"list the open pull requests from {head}"
        for item in self.api.pages(
            f"{self._path}/pulls",
            action=action,
            params={
                "state": "open",
                "head": f"{self.owner}:{head}",
                "base": base,
                "per_page": PER_PAGE,
            },
            next_page=link_next_page,
        ):
            pull = self._pull_request(expect_object(item, action), created=False, action=action)
            if pull.head == head and pull.base == base and self._from_this_repository(item):
                return pull
        return None

    def get_pull_request(self, number: int) -> PullRequest:
        action = f"read pull request #{number}"
        response = self.api.request("GET", f"{self._path}/pulls/{number}", action=action)
        return self._pull_request(
            self.api.json_object(response, action), created=False, action=action
        )

    def _create_pull_request(self, spec: PullRequestSpec, base: str) -> PullRequest:
        action = f"open a pull request from {spec.head} into {base}"
        response = self.api.request(
            "POST",
            f"{self._path}/pulls",
            action=action,
            json_body={
                "title": spec.title,
                "head": spec.head,
                "base": base,
                "body": spec.body,
                "draft": spec.draft,
            },
            passthrough=(422,),
        )
        if response.status_code == 422:
            if DUPLICATE_PULL_REQUEST in error_message(response).lower():
                existing = self.find_open_pull_request(spec.head, base)
                if existing is not None:
                    return existing
                raise DeliveryError(
                    f"GitHub says a pull request from {spec.head} into {base} already exists "
                    "but does not list it yet; try again in a moment"
                )
            raise DeliveryError(
                f"GitHub refused to {action} (422 {error_message(response)}): "
                "is the branch pushed, and does it differ from the base?"
            )
        return self._pull_request(
            self.api.json_object(response, action), created=True, action=action
        )

    def checks(self, pull_request: PullRequest) -> list[Check]:
        sha = self._head_sha(pull_request)
        commit = f"{self._path}/commits/{quote(sha, safe='')}"
        runs_action = f"read the check runs of {sha[:12]}"
        found = [
            _check_run(expect_object(run, runs_action))
            for run in self.api.pages(
                f"{commit}/check-runs",
                action=runs_action,
                params={"per_page": PER_PAGE},
                next_page=link_next_page,
                items=lambda page: expect_object(page, runs_action).get("check_runs"),
            )
        ]
        statuses_action = f"read the commit statuses of {sha[:12]}"
        found.extend(
            _commit_status(expect_object(status, statuses_action))
            for status in self.api.pages(
                f"{commit}/status",
                action=statuses_action,
                params={"per_page": PER_PAGE},
                next_page=link_next_page,
                items=lambda page: expect_object(page, statuses_action).get("statuses"),
            )
        )
        return found

    def _head_sha(self, pull_request: PullRequest) -> str:
        if pull_request.head_sha:
            return pull_request.head_sha
        fresh = self.get_pull_request(pull_request.number)
        if not fresh.head_sha:
            raise DeliveryError(f"GitHub did not say which commit #{fresh.number} is on")
        return fresh.head_sha

    def _from_this_repository(self, item: dict[str, Any]) -> bool:
        head_repo = item.get("head", {}).get("repo")
        if not isinstance(head_repo, dict):
            return False
        return str(head_repo.get("full_name", "")).lower() == self.repository.lower()

    def _pull_request(self, data: dict[str, Any], *, created: bool, action: str) -> PullRequest:
        merged = bool(data.get("merged_at"))
        return github_pull_request(self, data, merged=merged, created=created, action=action)


def github_pull_request(
    forge: Forge, data: dict[str, Any], *, merged: bool, created: bool, action: str
) -> PullRequest:
    """A pull request as GitHub answers it, a shape Gitea's API v1 copies; whether a closed one
    was merged each says its own way (``merged``)."""
    head = object_field(data, "head", action)
    state = text_field(data, "state", action)
    if state == "closed" and merged:
        state = "merged"
    return PullRequest(
        forge=forge.kind,
        repository=forge.repository,
        number=int_field(data, "number", action),
        url=text_field(data, "html_url", action),
        head=text_field(head, "ref", action),
        base=text_field(object_field(data, "base", action), "ref", action),
        head_sha=optional_text(head, "sha"),
        state=state,
        created=created,
        merge_commit_sha=optional_text(data, "merge_commit_sha") if state == "merged" else None,
    )


def _check_run(run: dict[str, Any]) -> Check:
    status = str(run.get("status") or "queued")
    conclusion = run.get("conclusion")
    if status != "completed":
        state, detail = CheckState.PENDING, status
    else:
        detail = str(conclusion or "completed")
        state = _CONCLUSIONS.get(detail, CheckState.PENDING)
    output = run.get("output")
    title = output.get("title") if isinstance(output, dict) else None
    return Check(
        name=str(run.get("name") or "check run"),
        state=state,
        detail=detail,
        url=optional_text(run, "html_url") or optional_text(run, "details_url"),
        description=title if isinstance(title, str) else "",
    )


def _commit_status(status: dict[str, Any]) -> Check:
    return github_commit_status(status, str(status.get("state") or "pending"), _STATUS_STATES)


def github_commit_status(
    status: dict[str, Any], word: str, states: Mapping[str, CheckState]
) -> Check:
    """A commit status as GitHub answers it, a shape Gitea's API v1 copies: ``word`` is its state
    as the forge names it, ``states`` what each word means."""
    return Check(
        name=str(status.get("context") or "default"),
        state=states.get(word, CheckState.PENDING),
        detail=word,
        url=optional_text(status, "target_url"),
        description=str(status.get("description") or ""),
    )
