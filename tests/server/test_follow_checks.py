"""Following a delivered fix's pull request: its CI checks, as the forge reports them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tracefix.deliver.forges.base import PullRequestSpec
from tracefix.deliver.forges.detect import forge_for
from tracefix.server.delivery import follow_pull_requests
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.projects import create_project

from .conftest import state

sys.path.insert(0, str(Path(__file__).parents[1] / "deliver" / "forges"))

from fake_gitea import FakeGitea  # noqa: E402

TOKEN = "forge-token-5678"
BRANCH = "tracefix/issue-1"
SHA = "f" * 40


def test_checks_and_the_merge_are_followed_until_the_pull_request_closes(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEFIX_FORGE_TOKEN", TOKEN)
    with FakeGitea(TOKEN) as forge:
        repository = forge.add_repository("acme", "shop", {"main": "d" * 40, BRANCH: SHA})
        url = "https://codeberg.example/acme/shop.git"
        with forge_for(url, "gitea", f"{forge.url}/api/v1", token=TOKEN) as client:
            pull = client.open_pull_request(PullRequestSpec(head=BRANCH, title="fix"))
        app = make_app()
        db = state(app).db
        with db.write_session() as session:
            project = create_project(
                session, "shop", url, {"forge": "gitea", "forge_api_url": f"{forge.url}/api/v1"}
            )
            issue = Issue(project_id=project.id, title="RuntimeError")
            session.add(issue)
            session.flush()
            session.add(
                Fix(
                    issue_id=issue.id,
                    state="delivered",
                    branch=BRANCH,
                    commit_sha=SHA,
                    pr_number=pull.number,
                    pr_url=pull.url,
                    checks_state="none",
                )
            )

        forge.add_status(repository, SHA, "ci / test", "pending")
        assert follow_pull_requests(db) == 1
        with db.session() as session:
            (fix,) = session.scalars(select(Fix))
        assert fix.checks_state == "pending"
        assert [(c["name"], c["state"]) for c in fix.checks or []] == [("ci / test", "pending")]

        forge.add_status(repository, SHA, "ci / test", "success")
        assert follow_pull_requests(db) == 1
        with db.session() as session:
            (fix,) = session.scalars(select(Fix))
        assert fix.checks_state == "success" and fix.pr_state == "open"
        assert fix.merged_sha is None

        merge_sha = "e" * 40
        (pull_json,) = repository.pulls
        pull_json.update(state="closed", merged=True, merge_commit_sha=merge_sha)
        assert follow_pull_requests(db) == 1
        with db.session() as session:
            (fix,) = session.scalars(select(Fix))
        assert (fix.pr_state, fix.merged_sha) == ("merged", merge_sha)
        assert follow_pull_requests(db) == 0  # closed: the forge is not asked again
