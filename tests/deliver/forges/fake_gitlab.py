"""GitLab's REST API v4 as documented at docs.gitlab.com/api, for the endpoints tracefix uses.

- ``PRIVATE-TOKEN: <token>`` (or ``Authorization: Bearer``), else 401
  ``{"message": "401 Unauthorized"}``.
- A project is ``:id``, numeric or its URL-encoded path (``group%2Fsub%2Fproject``); an
  unencoded path matches no route: 404 ``{"error": "404 Not Found"}``.
- ``GET /projects/:id``, ``GET|POST /projects/:id/merge_requests``,
  ``GET /projects/:id/merge_requests/:iid``, ``GET /projects/:id/repository/commits/:sha/statuses``
  (the latest status of each job name unless ``all=true``).
- Lists: ``page`` and ``per_page`` (20 by default, 100 at most), answered with ``x-page``,
  ``x-per-page``, ``x-next-page`` (empty on the last page), ``x-prev-page``, ``x-total``,
  ``x-total-pages`` and ``Link``.
- Creating: 400 ``{"error": "title is missing"}``; 409 with ``message`` as a list for the
  branch checks, "Another open merge request already exists for this source branch: !N" among
  them.
- Rate limits (Rack::Attack): 429, ``Retry-After``, ``RateLimit-*`` and the text "Retry later".
"""

from __future__ import annotations

import email.utils
import re
import time
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

WEB = "https://gitlab.example.com"


@dataclass
class Project:
    id: int
    path: str
    default_branch: str
    branches: dict[str, str]
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class FakeGitLab(FakeForge):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.projects: dict[str, Project] = {}
        #: The largest ``per_page`` granted; GitLab's is 100, a smaller one makes short pages.
        self.max_per_page = 100
        #: The next N merge request lists miss every merge request (a replica lagging behind
        #: the primary), so a second run's create meets the 409 of the first run's request.
        self.lagging_lists = 0

    def add_project(
        self, path: str, branches: dict[str, str], default_branch: str = "main"
    ) -> Project:
        project = Project(next(self.ids), path, default_branch, dict(branches))
        self.projects[path] = project
        return project

    def add_status(
        self,
        project: Project,
        sha: str,
        name: str,
        status: str,
        *,
        allow_failure: bool = False,
        ref: str = "main",
    ) -> None:
        status_id = next(self.ids)
        project.statuses.setdefault(sha, []).append(
            {
                "id": status_id,
                "sha": sha,
                "ref": ref,
                "status": status,
                "name": name,
                "target_url": f"{WEB}/{project.path}/-/jobs/{status_id}",
                "description": None,
                "created_at": TIMESTAMP,
                "started_at": TIMESTAMP if status != "created" else None,
                "finished_at": TIMESTAMP if status in {"success", "failed", "canceled"} else None,
                "allow_failure": allow_failure,
                "coverage": None,
                "pipeline_id": 77,
                "author": {"id": 1, "username": "tracefix-bot", "name": "tracefix"},
            }
        )

    @staticmethod
    def throttled(retry_after: int) -> Reply:
        reset = int(time.time()) + retry_after
        return Reply(
            429,
            b"Retry later\n",
            {
                "Retry-After": str(retry_after),
                "RateLimit-Name": "throttle_authenticated_api",
                "RateLimit-Limit": "2000",
                "RateLimit-Observed": "2001",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset),
                "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True),
            },
        )

    def route(self, request: Recorded) -> Reply:
        token = request.headers.get("private-token")
        bearer = request.headers.get("authorization")
        if token != self.token and bearer != f"Bearer {self.token}":
            return Reply(401, {"message": "401 Unauthorized"})
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)?", request.path)
        if match is None:
            return Reply(404, {"error": "404 Not Found"})
        key = unquote(match[1])
        project = self.projects.get(key) or next(
            (p for p in self.projects.values() if str(p.id) == key), None
        )
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        rest = match[2] or ""
        if request.method == "GET" and rest == "":
            return Reply(200, self._project_json(project))
        if rest == "/merge_requests":
            if request.method == "POST":
                return self._create(project, request.body)
            return self._list(project, request)
        iid = re.fullmatch(r"/merge_requests/(\d+)", rest)
        if iid and request.method == "GET":
            found = [m for m in project.merge_requests if m["iid"] == int(iid[1])]
            return Reply(200, found[0]) if found else Reply(404, {"message": "404 Not found"})
        statuses = re.fullmatch(r"/repository/commits/([^/]+)/statuses", rest)
        if statuses and request.method == "GET":
            return self._statuses(project, statuses[1], request)
        return Reply(404, {"error": "404 Not Found"})

    def _project_json(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "description": None,
            "name": project.path.rsplit("/", 1)[-1],
            "name_with_namespace": project.path.replace("/", " / "),
            "path": project.path.rsplit("/", 1)[-1],
            "path_with_namespace": project.path,
            "default_branch": project.default_branch,
            "web_url": f"{WEB}/{project.path}",
            "http_url_to_repo": f"{WEB}/{project.path}.git",
            "ssh_url_to_repo": f"git@gitlab.example.com:{project.path}.git",
        }

    def _paged(self, items: list[Any], request: Recorded) -> Reply:
        shown, page, last = page_of(
            items, request.query, size_param="per_page", default=20, maximum=self.max_per_page
        )
        size = min(int(request.query.get("per_page") or 20), self.max_per_page)
        headers = {
            "x-page": str(page),
            "x-per-page": str(size),
            "x-next-page": str(page + 1) if page < last else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
            "x-total": str(len(items)),
            "x-total-pages": str(last),
        }
        link = link_header(self.url, request.path, request.query, page, last)
        if link:
            headers["link"] = link
        return Reply(200, shown, headers)

    def _list(self, project: Project, request: Recorded) -> Reply:
        query = request.query
        found = [] if self.lagging_lists else list(reversed(project.merge_requests))
        self.lagging_lists = max(0, self.lagging_lists - 1)
        if query.get("state", "all") != "all":
            found = [m for m in found if m["state"] == query["state"]]
        for name in ("source_branch", "target_branch"):
            if name in query:
                found = [m for m in found if m[name] == query[name]]
        return self._paged(found, request)

    def _create(self, project: Project, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply(400, {"error": "source_branch is missing"})
        for required in ("source_branch", "target_branch", "title"):
            if not body.get(required):
                return Reply(400, {"error": f"{required} is missing"})
        source, target = body["source_branch"], body["target_branch"]
        if source == target:
            return Reply(
                409, {"message": ["You can't use same project/branch for source and target"]}
            )
        for kind, branch in (("Source", source), ("Target", target)):
            if branch not in project.branches:
                return Reply(409, {"message": [f'{kind} branch "{branch}" does not exist']})
        for existing in project.merge_requests:
            if existing["state"] == "opened" and (
                existing["source_branch"],
                existing["target_branch"],
            ) == (source, target):
                return Reply(
                    409,
                    {
                        "message": [
                            "Another open merge request already exists for this source "
                            f"branch: !{existing['iid']}"
                        ]
                    },
                )
        created = self.open_merge_request(
            project,
            source,
            target,
            str(body["title"]),
            str(body.get("description") or ""),
            remove_source_branch=bool(body.get("remove_source_branch")),
        )
        return Reply(201, created)

    def open_merge_request(
        self,
        project: Project,
        source: str,
        target: str,
        title: str,
        description: str = "",
        *,
        remove_source_branch: bool = False,
    ) -> dict[str, Any]:
        iid = len(project.merge_requests) + 1
        draft = title.lower().startswith(("draft:", "[draft]", "(draft)"))
        merge_request = {
            "id": next(self.ids),
            "iid": iid,
            "project_id": project.id,
            "title": title,
            "description": description,
            "state": "opened",
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "merged_by": None,
            "merged_at": None,
            "closed_by": None,
            "closed_at": None,
            "target_branch": target,
            "source_branch": source,
            "user_notes_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "author": {"id": 1, "username": "tracefix-bot", "name": "tracefix", "state": "active"},
            "assignees": [],
            "reviewers": [],
            "source_project_id": project.id,
            "target_project_id": project.id,
            "labels": [],
            "draft": draft,
            "work_in_progress": draft,
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "checking",
            "detailed_merge_status": "checking",
            "sha": project.branches.get(source, "0" * 40),
            "merge_commit_sha": None,
            "squash_commit_sha": None,
            "discussion_locked": None,
            "should_remove_source_branch": None,
            "force_remove_source_branch": remove_source_branch,
            "reference": f"!{iid}",
            "references": {
                "short": f"!{iid}",
                "relative": f"!{iid}",
                "full": f"{project.path}!{iid}",
            },
            "web_url": f"{WEB}/{project.path}/-/merge_requests/{iid}",
            "squash": False,
            "has_conflicts": False,
            "blocking_discussions_resolved": True,
        }
        project.merge_requests.append(merge_request)
        return merge_request

    def _statuses(self, project: Project, sha: str, request: Recorded) -> Reply:
        found = list(reversed(project.statuses.get(sha, [])))
        if request.query.get("all") != "true":
            latest: dict[str, dict[str, Any]] = {}
            for status in found:
                latest.setdefault(status["name"], status)
            found = list(latest.values())
        return self._paged(found, request)
