"""The GitHub client against a loopback GitHub that follows the REST API's documented contract."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fake_forge import Reply
from fake_github import FakeGitHub

from tracefix.deliver.forges import Check
from tracefix.deliver.forges import CheckState
from tracefix.deliver.forges import CIState
from tracefix.deliver.forges import GitHub
from tracefix.deliver.forges import PullRequest
from tracefix.deliver.forges import PullRequestSpec
from tracefix.deliver.forges import RateLimited
from tracefix.deliver.forges import forge_for
from tracefix.deliver.forges import summarize
from tracefix.errors import DeliveryError

TOKEN = "ghp_fakegithubtoken0000000000000000000000"
REPO = "acme/shop"
HEAD = "tracefix/ctx101-abcdef12"
MAIN_SHA = "1" * 40
FIX_SHA = "f" * 40
SPEC = PullRequestSpec(head=HEAD, title="Push an app context in seed_db", body="Verified.")


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(TOKEN) as server:
        assert isinstance(server, FakeGitHub)
        server.add_repository("acme", "shop", {"main": MAIN_SHA, HEAD: FIX_SHA})
        yield server


def client(fake: FakeGitHub, token: str = TOKEN, max_rate_limit_wait: float = 60) -> GitHub:
    forge = forge_for(
        f"git@github.com:{REPO}.git",
        api_url=fake.url,
        token=token,
        max_rate_limit_wait=max_rate_limit_wait,
    )
    assert isinstance(forge, GitHub)
    return forge


def test_opening_a_pull_request_posts_it_with_githubs_headers(fake: FakeGitHub) -> None:
    with client(fake) as github:
        pull = github.open_pull_request(SPEC)

    assert pull == PullRequest(
        forge="github",
        repository=REPO,
        number=1,
        url=f"https://github.com/{REPO}/pull/1",
        head=HEAD,
        base="main",
        head_sha=FIX_SHA,
        state="open",
        created=True,
    )
    [read_repo] = fake.sent("GET", f"/repos/{REPO}")
    [listed] = fake.sent("GET", "/pulls")
    [posted] = fake.sent("POST", "/pulls")
    assert listed.query == {
        "state": "open",
        "head": f"acme:{HEAD}",
        "base": "main",
        "per_page": "100",
    }
    assert posted.body == {
        "title": SPEC.title,
        "head": HEAD,
        "base": "main",
        "body": "Verified.",
        "draft": False,
    }
    for request in (read_repo, listed, posted):
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"]
        assert TOKEN not in request.path and TOKEN not in str(request.query)


def test_a_re_run_finds_the_open_pull_request_instead_of_opening_another(
    fake: FakeGitHub,
) -> None:
    with client(fake) as github:
        first = github.open_pull_request(SPEC)
        again = github.open_pull_request(SPEC)

    assert again == PullRequest(**{**first.__dict__, "created": False})
    assert len(fake.sent("POST", "/pulls")) == 1
    assert len(fake.repositories[REPO].pulls) == 1


def test_a_duplicate_refused_with_422_is_answered_with_the_existing_one(
    fake: FakeGitHub,
) -> None:
    """Two runs racing: the list misses the other run's pull request, GitHub's create does not."""
    repository = fake.repositories[REPO]
    fake.open_pull(repository, HEAD, "main", "Opened by the other run")
    fake.lagging_lists = 1

    with client(fake) as github:
        pull = github.open_pull_request(SPEC)

    assert (pull.number, pull.created, pull.head) == (1, False, HEAD)
    assert len(fake.sent("POST", "/pulls")) == 1
    assert len(repository.pulls) == 1


def test_a_duplicate_github_does_not_list_yet_asks_to_try_again(fake: FakeGitHub) -> None:
    fake.open_pull(fake.repositories[REPO], HEAD, "main", "Opened by the other run")
    fake.lagging_lists = 2

    with client(fake) as github, pytest.raises(DeliveryError) as raised:
        github.open_pull_request(SPEC)

    assert raised.value.message == (
        f"GitHub says a pull request from {HEAD} into main already exists but does not list "
        "it yet; try again in a moment"
    )
    assert len(fake.repositories[REPO].pulls) == 1


def test_an_explicit_base_skips_reading_the_default_branch(fake: FakeGitHub) -> None:
    fake.repositories[REPO].branches["release"] = "2" * 40

    with client(fake) as github:
        pull = github.open_pull_request(
            PullRequestSpec(head=HEAD, title="t", base="release", draft=True)
        )

    assert (pull.base, pull.created) == ("release", True)
    assert fake.sent("GET", f"/repos/{REPO}") == []
    assert fake.sent("POST", "/pulls")[0].body["draft"] is True


def test_a_branch_github_does_not_have_is_one_clear_line(fake: FakeGitHub) -> None:
    with client(fake) as github, pytest.raises(DeliveryError) as raised:
        github.open_pull_request(PullRequestSpec(head="tracefix/not-pushed", title="t"))

    assert raised.value.message == (
        "GitHub refused to open a pull request from tracefix/not-pushed into main "
        "(422 Validation Failed; head invalid): is the branch pushed, and does it differ "
        "from the base?"
    )


def test_a_bad_token_is_one_line_that_does_not_show_it(fake: FakeGitHub) -> None:
    wrong = "ghp_revokedtoken000000000000000000000000"
    with client(fake, token=wrong) as github, pytest.raises(DeliveryError) as raised:
        github.open_pull_request(SPEC)

    message = raised.value.message
    assert message == (
        "GitHub did not accept the token to read the repository acme/shop (401 Bad credentials): "
        "it is missing, invalid, expired or revoked"
    )
    assert wrong not in repr(github) and TOKEN not in repr(github)


def test_an_unknown_repository_says_so(fake: FakeGitHub) -> None:
    github = forge_for("https://github.com/acme/gone.git", api_url=fake.url, token=TOKEN)
    with github, pytest.raises(DeliveryError, match=r"\(404 Not Found\): acme/gone does not"):
        github.open_pull_request(SPEC)


def test_checks_combine_check_runs_and_statuses_across_pages(fake: FakeGitHub) -> None:
    for number in range(120):
        fake.add_check_run(FIX_SHA, f"test ({number})", "completed", "success", repo=REPO)
    fake.add_check_run(FIX_SHA, "lint", "completed", "skipped", repo=REPO)
    fake.add_check_run(FIX_SHA, "deploy-preview", "in_progress", repo=REPO)
    fake.add_status(FIX_SHA, "ci/jenkins", "pending", repo=REPO)
    fake.add_status(FIX_SHA, "ci/jenkins", "success", repo=REPO)

    with client(fake) as github:
        pull = github.open_pull_request(SPEC)
        checks = github.checks(pull)

    assert len(checks) == 123
    assert len(fake.sent("GET", f"/commits/{FIX_SHA}/check-runs")) == 2
    by_name = {check.name: check for check in checks}
    assert by_name["lint"].state is CheckState.NEUTRAL
    assert by_name["deploy-preview"] == Check(
        name="deploy-preview",
        state=CheckState.PENDING,
        detail="in_progress",
        url=by_name["deploy-preview"].url,
        description="deploy-preview: in_progress",
    )
    assert by_name["ci/jenkins"].state is CheckState.SUCCESS
    assert by_name["ci/jenkins"].url and by_name["ci/jenkins"].url.startswith("https://ci.")
    assert summarize(checks) is CIState.PENDING


@pytest.mark.parametrize(
    ("conclusion", "expected"),
    [
        ("success", CIState.SUCCESS),
        ("failure", CIState.FAILURE),
        ("timed_out", CIState.FAILURE),
        ("cancelled", CIState.FAILURE),
        ("action_required", CIState.FAILURE),
        ("neutral", CIState.SUCCESS),
    ],
)
def test_a_finished_check_run_decides_the_summary(
    fake: FakeGitHub, conclusion: str, expected: CIState
) -> None:
    fake.add_check_run(FIX_SHA, "build", "completed", "success", repo=REPO)
    fake.add_check_run(FIX_SHA, "test", "completed", conclusion, repo=REPO)

    with client(fake) as github:
        state = github.ci_state(github.open_pull_request(SPEC))

    assert state is expected


def test_no_checks_at_all_is_none(fake: FakeGitHub) -> None:
    with client(fake) as github:
        assert github.ci_state(github.open_pull_request(SPEC)) is CIState.NONE


def test_a_failed_commit_status_fails_the_summary(fake: FakeGitHub) -> None:
    fake.add_check_run(FIX_SHA, "build", "completed", "success", repo=REPO)
    fake.add_status(FIX_SHA, "security/scan", "error", repo=REPO)

    with client(fake) as github:
        assert github.ci_state(github.open_pull_request(SPEC)) is CIState.FAILURE


def test_a_secondary_rate_limit_is_waited_out_then_the_request_repeated(
    fake: FakeGitHub,
) -> None:
    fake.faults.append(FakeGitHub.secondary_rate_limit(retry_after=1))
    started = time.monotonic()

    with client(fake) as github:
        pull = github.open_pull_request(SPEC)

    assert pull.created is True
    assert time.monotonic() - started >= 1
    assert [r.path for r in fake.requests[:2]] == [f"/repos/{REPO}", f"/repos/{REPO}"]


def test_a_primary_rate_limit_beyond_the_allowed_wait_raises_rate_limited(
    fake: FakeGitHub,
) -> None:
    fake.faults.append(FakeGitHub.primary_rate_limit(reset_in=1800))

    with client(fake, max_rate_limit_wait=5) as github, pytest.raises(RateLimited) as raised:
        github.open_pull_request(SPEC)

    assert 1700 < raised.value.retry_after <= 1800
    assert raised.value.message.startswith(
        "GitHub rate limit reached while trying to read the repository acme/shop: retry in 1"
    )
    assert "API rate limit exceeded" in raised.value.message
    assert "\n" not in raised.value.message
    assert len(fake.requests) == 1


def test_a_403_that_is_not_a_rate_limit_is_a_permission_error(fake: FakeGitHub) -> None:
    fake.faults.append(
        Reply(403, {"message": "Resource not accessible by personal access token", "status": "403"})
    )
    with client(fake) as github, pytest.raises(DeliveryError) as raised:
        github.open_pull_request(SPEC)

    assert not isinstance(raised.value, RateLimited)
    assert "(403 Resource not accessible by personal access token): the token lacks" in (
        raised.value.message
    )


def test_a_pagination_link_to_another_host_is_not_followed(fake: FakeGitHub) -> None:
    for number in range(101):
        fake.add_check_run(FIX_SHA, f"test ({number})", "completed", "success", repo=REPO)
    fake.link_origin = "http://collector.invalid"

    with client(fake) as github:
        pull = github.open_pull_request(SPEC)
        with pytest.raises(
            DeliveryError, match="refusing to follow a pagination link to collector.invalid"
        ):
            github.checks(pull)


def test_a_forge_that_does_not_answer_in_time_is_one_line() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        github = forge_for(
            "https://github.com/acme/shop",
            api_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
            token=TOKEN,
            timeout=0.5,
        )
        with github, pytest.raises(DeliveryError) as raised:
            github.default_branch()
    finally:
        listener.close()
    assert raised.value.message == (
        "GitHub did not answer within 0.5 s while trying to read the repository acme/shop"
    )


def test_a_merged_pull_request_carries_its_merge_commit(fake: FakeGitHub) -> None:
    with client(fake) as github:
        opened = github.open_pull_request(SPEC)
        assert opened.merge_commit_sha is None
        (pull,) = fake.repositories[REPO].pulls
        pull.update(state="closed", merged=True, merged_at="2026-01-16T10:00:00Z")
        pull["merge_commit_sha"] = "a" * 40
        merged = github.get_pull_request(opened.number)
    assert (merged.state, merged.merge_commit_sha) == ("merged", "a" * 40)
