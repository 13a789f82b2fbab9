"""The GitLab client against a loopback GitLab that follows the v4 API's documented contract."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fake_gitlab import FakeGitLab
from fake_gitlab import Project

from tracefix.deliver.forges import CheckState
from tracefix.deliver.forges import CIState
from tracefix.deliver.forges import GitLab
from tracefix.deliver.forges import PullRequest
from tracefix.deliver.forges import PullRequestSpec
from tracefix.deliver.forges import RateLimited
from tracefix.deliver.forges import forge_for
from tracefix.errors import DeliveryError

TOKEN = "glpat-fakegitlabtoken000000"
PATH = "acme/platform/shop"
HEAD = "tracefix/ctx102-0badc0de"
FIX_SHA = "c" * 40
SPEC = PullRequestSpec(head=HEAD, title="Push an app context in the entry point", body="Why.")


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab(TOKEN) as server:
        assert isinstance(server, FakeGitLab)
        server.add_project(PATH, {"main": "a" * 40, HEAD: FIX_SHA})
        yield server


@pytest.fixture
def project(fake: FakeGitLab) -> Project:
    return fake.projects[PATH]


def client(fake: FakeGitLab, token: str = TOKEN, max_rate_limit_wait: float = 60) -> GitLab:
    forge = forge_for(
        f"https://gitlab.example.com/{PATH}.git",
        kind="gitlab",
        api_url=f"{fake.url}/api/v4",
        token=token,
        max_rate_limit_wait=max_rate_limit_wait,
    )
    assert isinstance(forge, GitLab)
    return forge


def test_opening_a_merge_request_addresses_the_nested_project_by_its_encoded_path(
    fake: FakeGitLab,
) -> None:
    with client(fake) as gitlab:
        merge_request = gitlab.open_pull_request(SPEC)

    assert merge_request == PullRequest(
        forge="gitlab",
        repository=PATH,
        number=1,
        url=f"https://gitlab.example.com/{PATH}/-/merge_requests/1",
        head=HEAD,
        base="main",
        head_sha=FIX_SHA,
        state="open",
        created=True,
    )
    encoded = "/api/v4/projects/acme%2Fplatform%2Fshop"
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", encoded),
        ("GET", f"{encoded}/merge_requests"),
        ("POST", f"{encoded}/merge_requests"),
    ]
    listed, posted = fake.requests[1], fake.requests[2]
    assert listed.query == {
        "state": "opened",
        "source_branch": HEAD,
        "target_branch": "main",
        "per_page": "100",
    }
    assert posted.body == {
        "source_branch": HEAD,
        "target_branch": "main",
        "title": SPEC.title,
        "description": "Why.",
        "remove_source_branch": True,
    }
    assert all(r.headers["private-token"] == TOKEN for r in fake.requests)
    assert all("authorization" not in r.headers for r in fake.requests)


def test_a_re_run_finds_the_open_merge_request(fake: FakeGitLab, project: Project) -> None:
    with client(fake) as gitlab:
        first = gitlab.open_pull_request(SPEC)
        again = gitlab.open_pull_request(SPEC)

    assert (again.number, again.created, first.created) == (first.number, False, True)
    assert len(fake.sent("POST", "/merge_requests")) == 1
    assert len(project.merge_requests) == 1


def test_the_open_one_is_found_past_the_first_page(fake: FakeGitLab, project: Project) -> None:
    """Pagination by ``x-next-page``: the match is on the second page of short pages."""
    fake.max_per_page = 2
    fake.open_merge_request(project, HEAD, "main", "the one")
    for number in range(3):
        fake.open_merge_request(project, f"other-{number}", "main", "noise")
    for merge_request in project.merge_requests[1:]:
        merge_request["source_branch"] = HEAD
        merge_request["source_project_id"] = 999

    with client(fake) as gitlab:
        found = gitlab.open_pull_request(SPEC)

    assert (found.number, found.created) == (1, False)
    assert [r.query.get("page") for r in fake.sent("GET", "/merge_requests")] == [None, "2"]


def test_a_duplicate_refused_with_409_is_answered_with_the_merge_request_it_names(
    fake: FakeGitLab, project: Project
) -> None:
    """Two runs racing: the list misses the other run's merge request, GitLab's create does not."""
    fake.open_merge_request(project, HEAD, "main", "Opened by the other run")
    fake.lagging_lists = 1

    with client(fake) as gitlab:
        found = gitlab.open_pull_request(SPEC)

    assert (found.number, found.created, found.head) == (1, False, HEAD)
    assert len(fake.sent("POST", "/merge_requests")) == 1
    assert fake.sent("GET", "/merge_requests/1")
    assert len(project.merge_requests) == 1


def test_draft_merge_requests_get_gitlabs_draft_prefix(fake: FakeGitLab, project: Project) -> None:
    with client(fake) as gitlab:
        gitlab.open_pull_request(PullRequestSpec(head=HEAD, title="Fix", base="main", draft=True))

    assert project.merge_requests[0]["title"] == "Draft: Fix"
    assert project.merge_requests[0]["draft"] is True


def test_a_branch_gitlab_does_not_have_is_one_clear_line(fake: FakeGitLab) -> None:
    with client(fake) as gitlab, pytest.raises(DeliveryError) as raised:
        gitlab.open_pull_request(PullRequestSpec(head="tracefix/not-pushed", title="t"))

    assert raised.value.message == (
        "GitLab refused to open a merge request from tracefix/not-pushed into main "
        '(409 Source branch "tracefix/not-pushed" does not exist)'
    )


def test_a_bad_token_is_one_line_that_does_not_show_it(fake: FakeGitLab) -> None:
    wrong = "glpat-expired00000000000000"
    with client(fake, token=wrong) as gitlab, pytest.raises(DeliveryError) as raised:
        gitlab.open_pull_request(SPEC)

    assert raised.value.message == (
        "GitLab did not accept the token to read the project acme/platform/shop "
        "(401 Unauthorized): it is missing, invalid, expired or revoked"
    )
    assert wrong not in raised.value.message


def test_jobs_become_checks_and_a_job_allowed_to_fail_does_not_fail_the_summary(
    fake: FakeGitLab, project: Project
) -> None:
    fake.add_status(project, FIX_SHA, "test", "running")
    fake.add_status(project, FIX_SHA, "test", "success")
    fake.add_status(project, FIX_SHA, "lint", "failed", allow_failure=True)
    fake.add_status(project, FIX_SHA, "deploy", "manual", allow_failure=True)
    fake.add_status(project, FIX_SHA, "docs", "skipped")

    with client(fake) as gitlab:
        merge_request = gitlab.open_pull_request(SPEC)
        checks = gitlab.checks(merge_request)
        state = gitlab.ci_state(merge_request)

    by_name = {check.name: check for check in checks}
    assert set(by_name) == {"test", "lint", "deploy", "docs"}
    assert by_name["test"].state is CheckState.SUCCESS
    assert (by_name["lint"].state, by_name["lint"].detail) == (
        CheckState.NEUTRAL,
        "failed (allowed to fail)",
    )
    assert by_name["deploy"].state is CheckState.NEUTRAL
    assert by_name["test"].url and by_name["test"].url.endswith(
        f"/{PATH}/-/jobs/{by_name['test'].url.rsplit('/', 1)[-1]}"
    )
    assert state is CIState.SUCCESS
    [statuses] = fake.sent("GET", f"/repository/commits/{FIX_SHA}/statuses")[:1]
    assert (
        statuses.path
        == f"/api/v4/projects/acme%2Fplatform%2Fshop/repository/commits/{FIX_SHA}/statuses"
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("created", CIState.PENDING),
        ("pending", CIState.PENDING),
        ("running", CIState.PENDING),
        ("failed", CIState.FAILURE),
        ("canceled", CIState.FAILURE),
        ("success", CIState.SUCCESS),
    ],
)
def test_a_required_job_decides_the_summary(
    fake: FakeGitLab, project: Project, status: str, expected: CIState
) -> None:
    fake.add_status(project, FIX_SHA, "build", "success")
    fake.add_status(project, FIX_SHA, "test", status)

    with client(fake) as gitlab:
        assert gitlab.ci_state(gitlab.open_pull_request(SPEC)) is expected


def test_checks_are_read_across_pages(fake: FakeGitLab, project: Project) -> None:
    fake.max_per_page = 10
    for number in range(24):
        fake.add_status(project, FIX_SHA, f"shard {number}", "success")
    fake.add_status(project, FIX_SHA, "shard 23", "failed")

    with client(fake) as gitlab:
        checks = gitlab.checks(gitlab.open_pull_request(SPEC))

    assert len(checks) == 24
    assert len(fake.sent("GET", "/statuses")) == 3
    assert {c.name for c in checks if c.state is CheckState.FAILURE} == {"shard 23"}


def test_throttling_is_waited_out_then_the_request_repeated(fake: FakeGitLab) -> None:
    fake.faults.append(FakeGitLab.throttled(retry_after=1))
    started = time.monotonic()

    with client(fake) as gitlab:
        assert gitlab.open_pull_request(SPEC).created is True

    assert time.monotonic() - started >= 1
    assert fake.requests[0].path == fake.requests[1].path


def test_throttling_beyond_the_allowed_wait_raises_rate_limited(fake: FakeGitLab) -> None:
    fake.faults.append(FakeGitLab.throttled(retry_after=600))

    with client(fake, max_rate_limit_wait=10) as gitlab, pytest.raises(RateLimited) as raised:
        gitlab.open_pull_request(SPEC)

    assert raised.value.retry_after == 600
    assert raised.value.message == (
        "GitLab rate limit reached while trying to read the project acme/platform/shop: "
        "retry in 600 s (Retry later)"
    )


def test_the_path_a_self_managed_gitlab_is_served_under_is_not_the_projects(
    fake: FakeGitLab,
) -> None:
    gitlab = forge_for(
        "https://gitlab.example.com/gitlab/acme/platform/shop.git",
        api_url=f"{fake.url}/api/v4",
        token=TOKEN,
    )
    assert isinstance(gitlab, GitLab)
    assert gitlab.repository == "gitlab/acme/platform/shop"

    served = forge_for(
        "https://gitlab.example.com/gitlab/acme/platform/shop.git",
        api_url="https://gitlab.example.com/gitlab/api/v4",
        token=TOKEN,
    )
    assert served.repository == PATH


def test_a_squash_merged_merge_request_carries_its_squash_commit(
    fake: FakeGitLab, project: Project
) -> None:
    with client(fake) as gitlab:
        opened = gitlab.open_pull_request(SPEC)
        (merge_request,) = project.merge_requests
        merge_request.update(state="merged", merge_commit_sha=None, squash_commit_sha="b" * 40)
        merged = gitlab.get_pull_request(opened.number)
    assert (merged.state, merged.merge_commit_sha) == ("merged", "b" * 40)
