"""GitLab (gitlab.com or self-managed) through REST API v4.

A project is addressed by its URL-encoded full path (``group%2Fsubgroup%2Fproject``), so nested
groups need no lookup of the numeric id. Merge requests: ``GET /projects/:id/merge_requests``
with ``state=opened&source_branch=...&target_branch=...`` finds an open one,
``POST /projects/:id/merge_requests`` creates one; GitLab refuses a second open one with 409 and
``{"message": ["Another open merge request already exists for this source branch: !12"]}``,
which names the winner of a race.

Checks are the commit statuses of the head commit
(``GET /projects/:id/repository/commits/:sha/statuses``): one per CI job of every pipeline that
ran on it, branch and merge request pipelines alike, plus statuses external services posted. A
job allowed to fail counts as neutral, as GitLab's own pipeline status does. Lists are paginated
with the ``X-Next-Page`` header (empty on the last page).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

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
from tracefix.deliver.forges.http import optional_text
from tracefix.deliver.forges.http import text_field
from tracefix.errors import DeliveryError

GITLAB_API_URL = "https://gitlab.com/api/v4"
PER_PAGE = 100
_EXISTING_MERGE_REQUEST = re.compile(r"already exists for this source branch: !(\d+)")
_MERGE_REQUEST_STATES = {"opened": "open", "locked": "open", "closed": "closed", "merged": "merged"}
_JOB_STATES = {
    "success": CheckState.SUCCESS,
    "failed": CheckState.FAILURE,
    "canceled": CheckState.FAILURE,
    "skipped": CheckState.NEUTRAL,
    "manual": CheckState.NEUTRAL,
}


def next_page_header(response: httpx.Response) -> str | None:
    """GitLab's offset pagination: ``X-Next-Page`` holds the next page's number, or nothing."""
    page = response.headers.get("x-next-page", "").strip()
    if not page.isdigit():
        return None
    return str(response.request.url.copy_set_param("page", page))


class GitLab(Forge):
    """A project on gitlab.com or a self-managed GitLab (``api_url=https://host/api/v4``)."""

    kind = "gitlab"
    display_name = "GitLab"
    git_username = "oauth2"

    def __init__(
        self,
        project_path: str,
        *,
        token: str,
        api_url: str = GITLAB_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
    ) -> None:
        path = project_path.strip("/")
        super().__init__(
            path,
            ApiClient(
                forge=self.display_name,
                base_url=api_url,
                repository=path,
                token=token,
                auth_headers={"PRIVATE-TOKEN": token},
                timeout=timeout,
                max_rate_limit_wait=max_rate_limit_wait,
            ),
        )
        self._path = f"/projects/{quote(path, safe='')}"

    def default_branch(self) -> str:
        action = f"read the project {self.repository}"
        response = self.api.request("GET", self._path, action=action)
        return text_field(self.api.json_object(response, action), "default_branch", action)

    def find_open_pull_request(self, head: str, base: str) -> PullRequest | None:
        action = f"list the open merge requests from {head}"
        for item in self.api.pages(
            f"{self._path}/merge_requests",
            action=action,
            params={
                "state": "opened",
                "source_branch": head,
                "target_branch": base,
                "per_page": PER_PAGE,
            },
            next_page=next_page_header,
        ):
            data = expect_object(item, action)
            request = self._merge_request(data, created=False, action=action)
            same_project = data.get("source_project_id") == data.get("target_project_id")
            if request.head == head and request.base == base and same_project:
                return request
        return None

    def get_pull_request(self, number: int) -> PullRequest:
        action = f"read merge request !{number}"
        response = self.api.request("GET", f"{self._path}/merge_requests/{number}", action=action)
        return self._merge_request(
            self.api.json_object(response, action), created=False, action=action
        )

    def _create_pull_request(self, spec: PullRequestSpec, base: str) -> PullRequest:
        action = f"open a merge request from {spec.head} into {base}"
        response = self.api.request(
            "POST",
            f"{self._path}/merge_requests",
            action=action,
            json_body={
                "source_branch": spec.head,
                "target_branch": base,
                "title": f"Draft: {spec.title}" if spec.draft else spec.title,
                "description": spec.body,
                "remove_source_branch": True,
            },
            passthrough=(409,),
        )
        if response.status_code == 409:
            said = error_message(response)
            winner = _EXISTING_MERGE_REQUEST.search(said)
            if winner is not None:
                named = self.get_pull_request(int(winner.group(1)))
                if named.state == "open" and (named.head, named.base) == (spec.head, base):
                    return named
            existing = self.find_open_pull_request(spec.head, base)
            if existing is not None:
                return existing
            raise DeliveryError(f"GitLab refused to {action} (409 {said})")
        return self._merge_request(
            self.api.json_object(response, action), created=True, action=action
        )

    def checks(self, pull_request: PullRequest) -> list[Check]:
        sha = pull_request.head_sha or self.get_pull_request(pull_request.number).head_sha
        if not sha:
            raise DeliveryError(f"GitLab did not say which commit !{pull_request.number} is on")
        action = f"read the commit statuses of {sha[:12]}"
        latest: dict[str, tuple[int, Check]] = {}
        for item in self.api.pages(
            f"{self._path}/repository/commits/{quote(sha, safe='')}/statuses",
            action=action,
            params={"per_page": PER_PAGE},
            next_page=next_page_header,
        ):
            status = expect_object(item, action)
            check = _job_check(status)
            status_id = status.get("id")
            order = status_id if isinstance(status_id, int) else 0
            if check.name not in latest or latest[check.name][0] <= order:
                latest[check.name] = (order, check)
        return [check for _, check in latest.values()]

    def _merge_request(self, data: dict[str, Any], *, created: bool, action: str) -> PullRequest:
        reported = text_field(data, "state", action)
        state = _MERGE_REQUEST_STATES.get(reported, reported)
        merged = (
            optional_text(data, "merge_commit_sha") or optional_text(data, "squash_commit_sha")
            if state == "merged"
            else None
        )
        return PullRequest(
            forge=self.kind,
            repository=self.repository,
            number=int_field(data, "iid", action),
            url=text_field(data, "web_url", action),
            head=text_field(data, "source_branch", action),
            base=text_field(data, "target_branch", action),
            head_sha=optional_text(data, "sha"),
            state=state,
            created=created,
            merge_commit_sha=merged,
        )


def _job_check(status: dict[str, Any]) -> Check:
    word = str(status.get("status") or "pending")
    state = _JOB_STATES.get(word, CheckState.PENDING)
    detail = word
    if state is CheckState.FAILURE and status.get("allow_failure") is True:
        state, detail = CheckState.NEUTRAL, f"{word} (allowed to fail)"
    return Check(
        name=str(status.get("name") or "default"),
        state=state,
        detail=detail,
        url=optional_text(status, "target_url"),
        description=str(status.get("description") or ""),
    )
