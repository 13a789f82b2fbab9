"""The Gitea/Forgejo client against a loopback Gitea that follows the v1 API's contract."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Iterator

import pytest
from fake_forge import Reply
from fake_gitea import FakeGitea
from fake_gitea import Repository

from tracefix.deliver.forges import CheckState
from tracefix.deliver.forges import CIState
from tracefix.deliver.forges import Gitea
from tracefix.deliver.forges import PullRequest
from tracefix.deliver.forges import PullRequestSpec
from tracefix.deliver.forges import RateLimited
from tracefix.deliver.forges import forge_for
from tracefix.deliver.forges import http as forge_http
from tracefix.errors import DeliveryError

TOKEN = "0123456789abcdef0123456789abcdef01234567"
HEAD = "tracefix/ctx103-feedface"
FIX_SHA = "e" * 40
SPEC = PullRequestSpec(head=HEAD, title="Push an app context in the worker thread")


@pytest.fixture
def fake() -> Iterator[FakeGitea]:
    with FakeGitea(TOKEN) as server:
        assert isinstance(server, FakeGitea)
        server.add_repository("acme", "shop", {"main": "d" * 40, HEAD: FIX_SHA})
        yield server


@pytest.fixture
def repository(fake: FakeGitea) -> Repository:
    return fake.repositories["acme/shop"]


def client(fake: FakeGitea, token: str = TOKEN, max_rate_limit_wait: float = 60) -> Gitea:
    forge = forge_for(
        "ssh://git@codeberg.example:2222/acme/shop.git",
        kind="forgejo",
        api_url=f"{fake.url}/api/v1",
        token=token,
        max_rate_limit_wait=max_rate_limit_wait,
    )
    assert isinstance(forge, Gitea)
    return forge


def test_opening_a_pull_request_looks_it_up_by_base_and_head_then_creates_it(
    fake: FakeGitea,
) -> None:
    with client(fake) as gitea:
        pull = gitea.open_pull_request(SPEC)

    assert pull == PullRequest(
        forge="gitea",
        repository="acme/shop",
        number=1,
        url="https://codeberg.example/acme/shop/pulls/1",
        head=HEAD,
        base="main",
        head_sha=FIX_SHA,
        state="open",
        created=True,
    )
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/api/v1/repos/acme/shop"),
        ("GET", f"/api/v1/repos/acme/shop/pulls/main/{HEAD}"),
        ("POST", "/api/v1/repos/acme/shop/pulls"),
    ]
    assert fake.requests[2].body == {"head": HEAD, "base": "main", "title": SPEC.title, "body": ""}
    assert all(r.headers["authorization"] == f"token {TOKEN}" for r in fake.requests)


def test_a_re_run_finds_the_open_pull_request(fake: FakeGitea, repository: Repository) -> None:
    with client(fake) as gitea:
        first = gitea.open_pull_request(SPEC)
        again = gitea.open_pull_request(SPEC)

    assert (again.number, again.created, first.created) == (1, False, True)
    assert len(fake.sent("POST", "/pulls")) == 1
    assert len(repository.pulls) == 1


def test_a_server_without_the_lookup_answers_the_duplicate_with_409_naming_it(
    fake: FakeGitea, repository: Repository
) -> None:
    fake.base_head_lookup = False
    fake.open_pull(repository, "other", "main", "someone else's")
    fake.open_pull(repository, HEAD, "main", "the first run's")

    with client(fake) as gitea:
        found = gitea.open_pull_request(SPEC)

    assert (found.number, found.created, found.head) == (2, False, HEAD)
    assert len(fake.sent("POST", "/pulls")) == 1
    assert fake.sent("GET", "/pulls/2")
    assert len(repository.pulls) == 2


def test_a_closed_pull_request_between_the_branches_does_not_stop_a_new_one(
    fake: FakeGitea, repository: Repository
) -> None:
    fake.open_pull(repository, HEAD, "main", "closed earlier")["state"] = "closed"

    with client(fake) as gitea:
        pull = gitea.open_pull_request(SPEC)

    assert (pull.number, pull.created) == (2, True)


def test_a_base_with_a_slash_is_found_by_walking_the_open_list(
    fake: FakeGitea, repository: Repository
) -> None:
    """The list is newest first, in pages of 50 at most: the oldest is on the second page."""
    repository.branches["release/2.0"] = "9" * 40
    fake.open_pull(repository, HEAD, "release/2.0", "ours")
    for number in range(60):
        repository.branches[f"feature-{number}"] = f"{number:040x}"
        fake.open_pull(repository, f"feature-{number}", "main", "noise")
    fake.open_pull(repository, HEAD, "main", "same head, other base")

    with client(fake) as gitea:
        found = gitea.find_open_pull_request(HEAD, "release/2.0")

    assert found is not None and (found.number, found.base) == (1, "release/2.0")
    assert [r.query.get("page") for r in fake.sent("GET", "/pulls")] == [None, "2"]


def test_drafts_get_the_wip_prefix_gitea_recognises(
    fake: FakeGitea, repository: Repository
) -> None:
    with client(fake) as gitea:
        gitea.open_pull_request(PullRequestSpec(head=HEAD, title="Fix", base="main", draft=True))

    assert repository.pulls[0]["title"] == "WIP: Fix"
    assert repository.pulls[0]["draft"] is True


def test_a_branch_gitea_does_not_have_is_one_clear_line(fake: FakeGitea) -> None:
    with client(fake) as gitea, pytest.raises(DeliveryError) as raised:
        gitea.open_pull_request(PullRequestSpec(head="tracefix/not-pushed", title="t"))

    assert raised.value.message == (
        "Gitea could not open a pull request from tracefix/not-pushed into main "
        "(404 The target couldn't be found.): acme/shop does not exist or the token cannot see it"
    )


def test_a_bad_token_is_one_line(fake: FakeGitea) -> None:
    with client(fake, token="wrong") as gitea, pytest.raises(DeliveryError) as raised:
        gitea.default_branch()

    assert raised.value.message == (
        "Gitea did not accept the token to read the repository acme/shop "
        "(401 invalid username, password or token): it is missing, invalid, expired or revoked"
    )


def test_statuses_become_checks(fake: FakeGitea, repository: Repository) -> None:
    fake.add_status(repository, FIX_SHA, "ci / test (push)", "pending")
    fake.add_status(repository, FIX_SHA, "ci / test (push)", "success")
    fake.add_status(repository, FIX_SHA, "ci / lint (push)", "warning")
    fake.add_status(repository, FIX_SHA, "ci / build (push)", "failure")

    with client(fake) as gitea:
        pull = gitea.open_pull_request(SPEC)
        checks = {check.name: check for check in gitea.checks(pull)}
        state = gitea.ci_state(pull)

    assert {name: check.state for name, check in checks.items()} == {
        "ci / test (push)": CheckState.SUCCESS,
        "ci / lint (push)": CheckState.NEUTRAL,
        "ci / build (push)": CheckState.FAILURE,
    }
    assert checks["ci / build (push)"].url == (
        f"https://codeberg.example/acme/shop/actions/runs/{repository.statuses[FIX_SHA][-1]['id']}"
    )
    assert state is CIState.FAILURE


def test_no_status_is_none_and_pending_is_pending(fake: FakeGitea, repository: Repository) -> None:
    with client(fake) as gitea:
        pull = gitea.open_pull_request(SPEC)
        assert gitea.ci_state(pull) is CIState.NONE
        fake.add_status(repository, FIX_SHA, "ci / test (push)", "pending")
        assert gitea.ci_state(pull) is CIState.PENDING


def test_a_proxy_rate_limit_with_an_http_date_is_waited_out(fake: FakeGitea) -> None:
    soon = email.utils.formatdate(time.time() + 1, usegmt=True)
    fake.faults.append(Reply(429, b"<html>Too Many Requests</html>", {"Retry-After": soon}))

    with client(fake) as gitea:
        assert gitea.default_branch() == "main"

    assert len(fake.requests) == 2


def test_a_long_rate_limit_raises_rate_limited(fake: FakeGitea) -> None:
    fake.faults.append(Reply(429, b"<html>Too Many Requests</html>", {"Retry-After": "3600"}))

    with client(fake, max_rate_limit_wait=1) as gitea, pytest.raises(RateLimited) as raised:
        gitea.default_branch()

    assert raised.value.retry_after == 3600
    assert "retry in 3600 s (<html>Too Many Requests</html>)" in raised.value.message


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forge_http, "TRANSIENT_BACKOFF", (0.01, 0.01))


def test_a_forge_down_in_passing_gets_the_request_again(
    fake: FakeGitea, repository: Repository, quick_backoff: None
) -> None:
    fake.faults += [Reply(502, b"<html>Bad Gateway</html>"), Reply(503, b"Service Unavailable")]

    with client(fake) as gitea:
        pull = gitea.open_pull_request(SPEC)

    assert [p["number"] for p in repository.pulls] == [pull.number]
    assert fake.requests[0].path == fake.requests[1].path == fake.requests[2].path


def test_a_forge_that_stays_down_is_one_clear_line(fake: FakeGitea, quick_backoff: None) -> None:
    fake.faults += [Reply(504, b"<html>Gateway Time-out</html>")] * 3

    with client(fake) as gitea, pytest.raises(DeliveryError) as raised:
        gitea.default_branch()

    assert len(fake.requests) == 3
    assert raised.value.message == (
        "Gitea failed to read the repository acme/shop (504 <html>Gateway Time-out</html>); "
        "try again later"
    )


def test_a_refused_connection_is_tried_again_then_one_clear_line(quick_backoff: None) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    forge = forge_for(
        "https://codeberg.example/acme/shop.git",
        kind="gitea",
        api_url=f"http://127.0.0.1:{port}/api/v1",
        token=TOKEN,
    )
    with forge as gitea, pytest.raises(DeliveryError) as raised:
        gitea.default_branch()
    assert raised.value.message.startswith(
        "cannot reach Gitea at 127.0.0.1 to read the repository acme/shop: "
    )
