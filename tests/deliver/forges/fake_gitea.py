"""Gitea's (and Forgejo's) REST API v1 as its swagger and handlers define it, for tracefix's needs.

- ``Authorization: token <token>`` (or ``Bearer``), else 401 with ``{"message", "url"}``.
- ``GET /repos/{o}/{r}``, ``GET|POST /repos/{o}/{r}/pulls``, ``GET /repos/{o}/{r}/pulls/{index}``,
  ``GET /repos/{o}/{r}/pulls/{base}/{head}`` (the latest pull request between the two, or
  404; ``base_head_lookup=False`` plays a server from before it existed, whose router answers
  "404 page not found"), ``GET /repos/{o}/{r}/commits/{ref}/status``.
- The pull request list has no head filter (``head`` is ignored); pages of ``limit`` (30 by
  default, 50 at most: ``MAX_RESPONSE_ITEMS``) linked by ``Link``, with ``X-Total-Count``.
- Creating: 422 "Invalid PullRequest: There are no changes between the head and the base",
  404 for a head branch it does not have, 409 "pull request already exists for these targets
  [id: .., issue_id: N, head_repo_id: .., base_repo_id: .., head_branch: .., base_branch: ..]".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import unquote

from fake_forge import TIMESTAMP
from fake_forge import FakeForge
from fake_forge import Recorded
from fake_forge import Reply
from fake_forge import link_header
from fake_forge import page_of

WEB = "https://codeberg.example"
NOT_FOUND = "The target couldn't be found."


@dataclass
class Repository:
    id: int
    owner: str
    name: str
    default_branch: str
    branches: dict[str, str]
    pulls: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitea(FakeForge):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.repositories: dict[str, Repository] = {}
        self.base_head_lookup = True

    def add_repository(
        self, owner: str, name: str, branches: dict[str, str], default_branch: str = "main"
    ) -> Repository:
        repository = Repository(next(self.ids), owner, name, default_branch, dict(branches))
        self.repositories[repository.full_name.lower()] = repository
        return repository

    def add_status(self, repository: Repository, sha: str, context: str, state: str) -> None:
        status_id = next(self.ids)
        repository.statuses.setdefault(sha, []).append(
            {
                "id": status_id,
                "status": state,
                "target_url": f"{WEB}/{repository.full_name}/actions/runs/{status_id}",
                "description": f"{context}: {state}",
                "url": f"{self.url}/api/v1/repos/{repository.full_name}/statuses/{sha}",
                "context": context,
                "creator": {"id": 1, "login": "gitea-actions"},
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
            }
        )

    def _error(self, status: int, message: str) -> Reply:
        return Reply(status, {"message": message, "url": f"{self.url}/api/swagger"})

    def route(self, request: Recorded) -> Reply:
        authorization = request.headers.get("authorization")
        if authorization not in {f"token {self.token}", f"Bearer {self.token}"}:
            return self._error(401, "invalid username, password or token")
        match = re.fullmatch(r"/api/v1/repos/([^/]+)/([^/]+)(/.*)?", request.path)
        repository = self.repositories.get(f"{match[1]}/{match[2]}".lower()) if match else None
        if match is None or repository is None:
            return Reply(
                404, {"errors": [], "message": NOT_FOUND, "url": f"{self.url}/api/swagger"}
            )
        rest = match[3] or ""
        if request.method == "GET" and rest == "":
            return Reply(200, self._repository_json(repository))
        if rest == "/pulls":
            if request.method == "POST":
                return self._create(repository, request.body)
            return self._list(repository, request)
        index = re.fullmatch(r"/pulls/(\d+)", rest)
        if index and request.method == "GET":
            found = [p for p in repository.pulls if p["number"] == int(index[1])]
            return Reply(200, found[0]) if found else self._error(404, NOT_FOUND)
        base_head = re.fullmatch(r"/pulls/([^/]+)/(.+)", rest)
        if base_head and request.method == "GET":
            if not self.base_head_lookup:
                return Reply(404, b"404 page not found\n")
            base, head = unquote(base_head[1]), unquote(base_head[2])
            found = [
                p for p in repository.pulls if (p["base"]["ref"], p["head"]["ref"]) == (base, head)
            ]
            return Reply(200, found[-1]) if found else self._error(404, NOT_FOUND)
        status = re.fullmatch(r"/commits/([^/]+)/status", rest)
        if status and request.method == "GET":
            return self._combined_status(repository, unquote(status[1]), request)
        return Reply(404, b"404 page not found\n")

    def _repository_json(self, repository: Repository) -> dict[str, Any]:
        return {
            "id": repository.id,
            "owner": {"id": 1, "login": repository.owner, "username": repository.owner},
            "name": repository.name,
            "full_name": repository.full_name,
            "private": False,
            "html_url": f"{WEB}/{repository.full_name}",
            "clone_url": f"{WEB}/{repository.full_name}.git",
            "ssh_url": f"git@codeberg.example:{repository.full_name}.git",
            "default_branch": repository.default_branch,
        }

    def _paged(self, items: list[Any], request: Recorded) -> tuple[list[Any], dict[str, str]]:
        shown, page, last = page_of(
            items, request.query, size_param="limit", default=30, maximum=50
        )
        headers = {"X-Total-Count": str(len(items))}
        link = link_header(self.url, request.path, request.query, page, last)
        if link:
            headers["Link"] = link
        return shown, headers

    def _list(self, repository: Repository, request: Recorded) -> Reply:
        state = request.query.get("state", "open")
        pulls = [p for p in reversed(repository.pulls) if state == "all" or p["state"] == state]
        shown, headers = self._paged(pulls, request)
        return Reply(200, shown, headers)

    def _create(self, repository: Repository, body: Any) -> Reply:
        if not isinstance(body, dict) or not body.get("head") or not body.get("base"):
            return Reply(
                422,
                [
                    {
                        "fieldNames": ["Head"],
                        "classification": "RequiredError",
                        "message": "Required",
                    }
                ],
            )
        head, base = str(body["head"]), str(body["base"])
        if head == base:
            return self._error(
                422, "Invalid PullRequest: There are no changes between the head and the base"
            )
        if head not in repository.branches or base not in repository.branches:
            return Reply(
                404, {"errors": [], "message": NOT_FOUND, "url": f"{self.url}/api/swagger"}
            )
        for pull in repository.pulls:
            if pull["state"] == "open" and (pull["head"]["ref"], pull["base"]["ref"]) == (
                head,
                base,
            ):
                return self._error(
                    409,
                    f"pull request already exists for these targets [id: {pull['id']}, "
                    f"issue_id: {pull['number']}, head_repo_id: {repository.id}, "
                    f"base_repo_id: {repository.id}, head_branch: {head}, base_branch: {base}]",
                )
        return Reply(
            201,
            self.open_pull(
                repository, head, base, str(body.get("title", "")), str(body.get("body") or "")
            ),
        )

    def open_pull(
        self, repository: Repository, head: str, base: str, title: str, body: str = ""
    ) -> dict[str, Any]:
        number = len(repository.pulls) + 1
        html = f"{WEB}/{repository.full_name}/pulls/{number}"
        repo_json = self._repository_json(repository)

        def branch(ref: str) -> dict[str, Any]:
            return {
                "label": ref,
                "ref": ref,
                "sha": repository.branches.get(ref, "0" * 40),
                "repo_id": repository.id,
                "repo": repo_json,
            }

        pull = {
            "id": next(self.ids),
            "url": html,
            "number": number,
            "user": {"id": 2, "login": "tracefix-bot"},
            "title": title,
            "body": body,
            "labels": [],
            "milestone": None,
            "assignee": None,
            "assignees": None,
            "state": "open",
            "draft": title.startswith(("WIP:", "[WIP]")),
            "is_locked": False,
            "comments": 0,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "mergeable": True,
            "merged": False,
            "merged_at": None,
            "merge_commit_sha": None,
            "merged_by": None,
            "allow_maintainer_edit": False,
            "base": branch(base),
            "head": branch(head),
            "merge_base": repository.branches.get(base, "0" * 40),
            "due_date": None,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "closed_at": None,
        }
        repository.pulls.append(pull)
        return pull

    def _combined_status(self, repository: Repository, sha: str, request: Recorded) -> Reply:
        latest: dict[str, dict[str, Any]] = {}
        for status in repository.statuses.get(sha, []):
            latest[status["context"]] = status
        statuses = list(latest.values())
        states = {status["status"] for status in statuses}
        worst = next(
            (s for s in ("error", "failure", "pending", "warning", "success") if s in states), ""
        )
        shown, headers = self._paged(statuses, request)
        return Reply(
            200,
            {
                "state": worst,
                "sha": sha,
                "total_count": len(statuses),
                "statuses": shown,
                "repository": self._repository_json(repository),
                "commit_url": f"{self.url}/api/v1/repos/{repository.full_name}/git/commits/{sha}",
                "url": f"{self.url}/api/v1/repos/{repository.full_name}/commits/{sha}/status",
            },
            headers,
        )
