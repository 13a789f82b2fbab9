"""GitHub's REST API v3 as documented at docs.github.com/rest, for the few endpoints tracefix uses.

- ``Authorization: Bearer <token>`` or 401 ``{"message": "Bad credentials", ...}``; an
  unsupported ``X-GitHub-Api-Version`` is a 400; every answer carries ``x-ratelimit-*``.
- ``GET /repos/{o}/{r}``, ``GET|POST /repos/{o}/{r}/pulls``, ``GET /repos/{o}/{r}/pulls/{n}``,
  ``GET /repos/{o}/{r}/commits/{ref}/check-runs`` and ``.../status``.
- Pull request list filters: ``state``, ``head`` (only as ``user:ref-name``; a bare branch
  name is ignored, as on GitHub), ``base``; pages of ``per_page`` (30 by default, 100 at most)
  linked by ``Link`` headers.
- Creating: 422 "Validation Failed" with ``errors`` for an unknown head or base, no commits
  between them, or "A pull request already exists for owner:branch.".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from fake_forge import TIMESTAMP
from fake_forge import FakeForge
from fake_forge import Recorded
from fake_forge import Reply
from fake_forge import link_header
from fake_forge import page_of

API_VERSIONS = {"2022-11-28", "2026-03-10"}
DOCS = "https://docs.github.com/rest"


@dataclass
class Repository:
    owner: str
    name: str
    default_branch: str
    branches: dict[str, str]
    pulls: list[dict[str, Any]] = field(default_factory=list)
    check_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub(FakeForge):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.repositories: dict[str, Repository] = {}
        #: The next N pull request lists miss every pull request (GitHub's lists lag behind
        #: writes), so a second run's create meets the 422 of the first run's pull request.
        self.lagging_lists = 0
        #: Where ``Link`` headers point: another host, to see the client refuse to follow.
        self.link_origin: str | None = None

    def add_repository(
        self, owner: str, name: str, branches: dict[str, str], default_branch: str = "main"
    ) -> Repository:
        repository = Repository(owner, name, default_branch, dict(branches))
        self.repositories[repository.full_name.lower()] = repository
        return repository

    def add_check_run(
        self, sha: str, name: str, status: str, conclusion: str | None = None, *, repo: str
    ) -> None:
        run_id = next(self.ids)
        self.repositories[repo.lower()].check_runs.setdefault(sha, []).append(
            {
                "id": run_id,
                "head_sha": sha,
                "node_id": f"CR_{run_id}",
                "external_id": "",
                "url": f"{self.url}/repos/{repo}/check-runs/{run_id}",
                "html_url": f"https://github.com/{repo}/runs/{run_id}",
                "details_url": f"https://ci.example.com/{run_id}",
                "status": status,
                "conclusion": conclusion,
                "started_at": TIMESTAMP,
                "completed_at": TIMESTAMP if status == "completed" else None,
                "output": {
                    "title": f"{name}: {conclusion or status}",
                    "summary": "",
                    "text": None,
                    "annotations_count": 0,
                    "annotations_url": f"{self.url}/repos/{repo}/check-runs/{run_id}/annotations",
                },
                "name": name,
                "check_suite": {"id": 5},
                "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
                "pull_requests": [],
            }
        )

    def add_status(self, sha: str, context: str, state: str, *, repo: str) -> None:
        status_id = next(self.ids)
        self.repositories[repo.lower()].statuses.setdefault(sha, []).insert(
            0,
            {
                "url": f"{self.url}/repos/{repo}/statuses/{sha}",
                "avatar_url": None,
                "id": status_id,
                "node_id": f"SC_{status_id}",
                "state": state,
                "description": f"{context} says {state}",
                "target_url": f"https://ci.example.com/{status_id}",
                "context": context,
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
            },
        )

    @staticmethod
    def primary_rate_limit(reset_in: int) -> Reply:
        return Reply(
            403,
            {
                "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub "
                "Support for help, please include the request ID 1:2:3.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                "status": "403",
            },
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + reset_in),
                "x-ratelimit-used": "5000",
                "x-ratelimit-resource": "core",
            },
        )

    @staticmethod
    def secondary_rate_limit(retry_after: int, status: int = 429) -> Reply:
        return Reply(
            status,
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                "before you try again.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                "status": str(status),
            },
            {"retry-after": str(retry_after)},
        )

    def route(self, request: Recorded) -> Reply:
        reply = self._route(request)
        reply.headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4990",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-used": "10",
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
            **reply.headers,
        }
        return reply

    def _route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            )
        version = request.headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            return Reply(400, {"message": f"Invalid API version: {version}", "status": "400"})
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", request.path)
        repository = self.repositories.get(f"{match[1]}/{match[2]}".lower()) if match else None
        if match is None or repository is None:
            return _not_found()
        rest = match[3] or ""
        if request.method == "GET" and rest == "":
            return Reply(200, self._repository_json(repository))
        if rest == "/pulls":
            if request.method == "POST":
                return self._create_pull(repository, request.body)
            return self._list_pulls(repository, request)
        number = re.fullmatch(r"/pulls/(\d+)", rest)
        if number and request.method == "GET":
            found = [p for p in repository.pulls if p["number"] == int(number[1])]
            return Reply(200, found[0]) if found else _not_found()
        commit = re.fullmatch(r"/commits/([^/]+)/(check-runs|status)", rest)
        if commit and request.method == "GET":
            sha = repository.branches.get(commit[1], commit[1])
            if commit[2] == "check-runs":
                return self._check_runs(repository, sha, request)
            return self._combined_status(repository, sha, request)
        return _not_found()

    def _repository_json(self, repository: Repository) -> dict[str, Any]:
        return {
            "id": 1296269,
            "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
            "name": repository.name,
            "full_name": repository.full_name,
            "owner": {"login": repository.owner, "id": 1, "type": "Organization"},
            "private": True,
            "html_url": f"https://github.com/{repository.full_name}",
            "url": f"{self.url}/repos/{repository.full_name}",
            "clone_url": f"https://github.com/{repository.full_name}.git",
            "default_branch": repository.default_branch,
        }

    def _list_pulls(self, repository: Repository, request: Recorded) -> Reply:
        query = request.query
        state = query.get("state", "open")
        pulls = [] if self.lagging_lists else list(repository.pulls)
        self.lagging_lists = max(0, self.lagging_lists - 1)
        if state != "all":
            pulls = [p for p in pulls if p["state"] == state]
        head = query.get("head", "")
        if ":" in head:
            pulls = [p for p in pulls if p["head"]["label"] == head]
        if "base" in query:
            pulls = [p for p in pulls if p["base"]["ref"] == query["base"]]
        return self._paged(pulls, request)

    def _paged(
        self, items: list[Any], request: Recorded, wrap: str | None = None, **extra: Any
    ) -> Reply:
        shown, page, last = page_of(
            items, request.query, size_param="per_page", default=30, maximum=100
        )
        link = link_header(self.link_origin or self.url, request.path, request.query, page, last)
        body: Any = {"total_count": len(items), wrap: shown, **extra} if wrap else shown
        return Reply(200, body, {"link": link} if link else {})

    def _create_pull(self, repository: Repository, body: Any) -> Reply:
        if not isinstance(body, dict) or "head" not in body or "base" not in body:
            return Reply(
                422,
                {
                    "message": 'Invalid request.\n\n"head" wasn\'t supplied.',
                    "documentation_url": DOCS,
                    "status": "422",
                },
            )
        head = str(body["head"]).split(":")[-1]
        base = str(body["base"])
        errors = [
            {"resource": "PullRequest", "field": name, "code": "invalid"}
            for name, branch in (("head", head), ("base", base))
            if branch not in repository.branches
        ]
        if not errors and repository.branches[head] == repository.branches[base]:
            errors = [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            ]
        if not errors and any(
            p["state"] == "open" and p["head"]["ref"] == head and p["base"]["ref"] == base
            for p in repository.pulls
        ):
            errors = [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {repository.owner}:{head}.",
                }
            ]
        if errors:
            return Reply(
                422,
                {
                    "message": "Validation Failed",
                    "errors": errors,
                    "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request",
                    "status": "422",
                },
            )
        pull = self.open_pull(
            repository,
            head,
            base,
            str(body.get("title", "")),
            str(body.get("body") or ""),
            draft=bool(body.get("draft")),
        )
        created = {
            **pull,
            "merged": False,
            "mergeable": None,
            "comments": 0,
            "commits": 1,
            "additions": 3,
            "deletions": 1,
            "changed_files": 1,
        }
        return Reply(201, created, {"location": pull["url"]})

    def open_pull(
        self,
        repository: Repository,
        head: str,
        base: str,
        title: str,
        body: str = "",
        *,
        draft: bool = False,
    ) -> dict[str, Any]:
        """Put an open pull request in the repository, as GitHub would after a create."""
        number = len(repository.pulls) + 1
        full = repository.full_name
        repo_json = self._repository_json(repository)
        pull = {
            "url": f"{self.url}/repos/{full}/pulls/{number}",
            "id": next(self.ids),
            "node_id": f"PR_{number}",
            "html_url": f"https://github.com/{full}/pull/{number}",
            "diff_url": f"https://github.com/{full}/pull/{number}.diff",
            "patch_url": f"https://github.com/{full}/pull/{number}.patch",
            "issue_url": f"{self.url}/repos/{full}/issues/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": title,
            "user": {"login": "tracefix-bot", "id": 2, "type": "User"},
            "body": body,
            "labels": [],
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "draft": draft,
            "head": {
                "label": f"{repository.owner}:{head}",
                "ref": head,
                "sha": repository.branches[head],
                "user": {"login": repository.owner},
                "repo": repo_json,
            },
            "base": {
                "label": f"{repository.owner}:{base}",
                "ref": base,
                "sha": repository.branches[base],
                "user": {"login": repository.owner},
                "repo": repo_json,
            },
            "author_association": "CONTRIBUTOR",
            "auto_merge": None,
        }
        repository.pulls.append(pull)
        return pull

    def _check_runs(self, repository: Repository, sha: str, request: Recorded) -> Reply:
        latest: dict[str, dict[str, Any]] = {}
        for run in repository.check_runs.get(sha, []):
            latest[run["name"]] = run
        return self._paged(list(latest.values()), request, wrap="check_runs")

    def _combined_status(self, repository: Repository, sha: str, request: Recorded) -> Reply:
        latest: dict[str, dict[str, Any]] = {}
        for status in repository.statuses.get(sha, []):
            latest.setdefault(status["context"], status)
        states = {status["state"] for status in latest.values()}
        if states & {"error", "failure"}:
            combined = "failure"
        elif not states or "pending" in states:
            combined = "pending"
        else:
            combined = "success"
        reply = self._paged(list(latest.values()), request, wrap="statuses")
        reply.body = {
            "state": combined,
            "statuses": reply.body["statuses"],
            "sha": sha,
            "total_count": len(latest),
            "repository": self._repository_json(repository),
            "commit_url": f"{self.url}/repos/{repository.full_name}/commits/{sha}",
            "url": f"{self.url}/repos/{repository.full_name}/commits/{sha}/status",
        }
        return reply


def _not_found() -> Reply:
    return Reply(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
