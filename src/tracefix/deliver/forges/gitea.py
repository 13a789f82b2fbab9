"""Gitea and Forgejo (Codeberg among them) through REST API v1.

Their pull request list has no head-branch filter (Gitea has none; Forgejo before 16 neither),
so an open request is found with ``GET /repos/{owner}/{repo}/pulls/{base}/{head}``, which
answers the latest request between the two branches or 404. ``POST /repos/{owner}/{repo}/pulls``
refuses a second open one with 409 "pull request already exists for these targets [id: 7,
issue_id: 3, ...]", whose ``issue_id`` is the number of the winner: that also covers servers too
old for the lookup and base branches with a slash, which it cannot address.

Checks are the head commit's statuses, Gitea Actions' included
(``GET /repos/{owner}/{repo}/commits/{sha}/status``, the latest of each context). Lists are
paginated with ``Link`` headers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from tracefix.deliver.forges.base import Check
from tracefix.deliver.forges.base import CheckState
from tracefix.deliver.forges.base import Forge
from tracefix.deliver.forges.base import PullRequest
from tracefix.deliver.forges.base import PullRequestSpec
from tracefix.deliver.forges.github import github_commit_status
from tracefix.deliver.forges.github import github_pull_request
from tracefix.deliver.forges.http import DEFAULT_MAX_RATE_LIMIT_WAIT
from tracefix.deliver.forges.http import DEFAULT_TIMEOUT
from tracefix.deliver.forges.http import ApiClient
from tracefix.deliver.forges.http import error_message
from tracefix.deliver.forges.http import expect_object
from tracefix.deliver.forges.http import link_next_page
from tracefix.deliver.forges.http import text_field
from tracefix.errors import DeliveryError

PAGE_LIMIT = 50
_EXISTING_PULL_REQUEST = re.compile(r"already exists.*?issue_id: (\d+)")
_STATUS_STATES = {
    "success": CheckState.SUCCESS,
    "pending": CheckState.PENDING,
    "failure": CheckState.FAILURE,
    "error": CheckState.FAILURE,
    "warning": CheckState.NEUTRAL,
    "skipped": CheckState.NEUTRAL,
}


class Gitea(Forge):
    """A repository on a Gitea or Forgejo server (``api_url=https://host/api/v1``)."""

    kind = "gitea"
    display_name = "Gitea"
    #: Gitea reads the password as the token whatever the user name is.
    git_username = "x-access-token"

    def __init__(
        self,
        owner: str,
        name: str,
        *,
        token: str,
        api_url: str,
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
                auth_headers={"Authorization": f"token {token}", "Accept": "application/json"},
                timeout=timeout,
                max_rate_limit_wait=max_rate_limit_wait,
            ),
        )
        self._path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    def default_branch(self) -> str:
        action = f"read the repository {self.repository}"
        response = self.api.request("GET", self._path, action=action)
        return text_field(self.api.json_object(response, action), "default_branch", action)

    def find_open_pull_request(self, head: str, base: str) -> PullRequest | None:
        if "/" in base:
            return self._search_open_pull_requests(head, base)
        action = f"look up the pull request from {head} into {base}"
        response = self.api.request(
            "GET",
            f"{self._path}/pulls/{quote(base, safe='')}/{quote(head, safe='/')}",
            action=action,
            passthrough=(404,),
        )
        if response.status_code == 404:
            return None
        found = self._pull_request(
            self.api.json_object(response, action), created=False, action=action
        )
        if found.state == "open" and (found.head, found.base) == (head, base):
            return found
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
                "head": spec.head,
                "base": base,
                "title": f"WIP: {spec.title}" if spec.draft else spec.title,
                "body": spec.body,
            },
            passthrough=(409,),
        )
        if response.status_code == 409:
            said = error_message(response)
            winner = _EXISTING_PULL_REQUEST.search(said)
            if winner is not None:
                named = self.get_pull_request(int(winner.group(1)))
                if named.state == "open" and (named.head, named.base) == (spec.head, base):
                    return named
            existing = self._search_open_pull_requests(spec.head, base)
            if existing is not None:
                return existing
            raise DeliveryError(f"Gitea refused to {action} (409 {said})")
        return self._pull_request(
            self.api.json_object(response, action), created=True, action=action
        )

    def checks(self, pull_request: PullRequest) -> list[Check]:
        sha = pull_request.head_sha or self.get_pull_request(pull_request.number).head_sha
        if not sha:
            raise DeliveryError(f"Gitea did not say which commit #{pull_request.number} is on")
        action = f"read the commit statuses of {sha[:12]}"
        return [
            _commit_status(expect_object(status, action))
            for status in self.api.pages(
                f"{self._path}/commits/{quote(sha, safe='')}/status",
                action=action,
                params={"limit": PAGE_LIMIT},
                next_page=link_next_page,
                items=lambda page: expect_object(page, action).get("statuses") or [],
            )
        ]

    def _search_open_pull_requests(self, head: str, base: str) -> PullRequest | None:
        """Every open pull request, page by page, for the one from ``head`` into ``base``."""
        action = f"list the open pull requests from {head}"
        for item in self.api.pages(
            f"{self._path}/pulls",
            action=action,
            params={"state": "open", "limit": PAGE_LIMIT},
            next_page=link_next_page,
        ):
            data = expect_object(item, action)
            found = self._pull_request(data, created=False, action=action)
            same_repository = data.get("head", {}).get("repo_id") == data.get("base", {}).get(
                "repo_id"
            )
            if (found.head, found.base) == (head, base) and same_repository:
                return found
        return None

    def _pull_request(self, data: dict[str, Any], *, created: bool, action: str) -> PullRequest:
        merged = data.get("merged") is True
        return github_pull_request(self, data, merged=merged, created=created, action=action)


def _commit_status(status: dict[str, Any]) -> Check:
    word = str(status.get("status") or status.get("state") or "pending")
    return github_commit_status(status, word, _STATUS_STATES)
