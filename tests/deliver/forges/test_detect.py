"""From a git remote URL to the right forge client, its repository and its API address."""

from __future__ import annotations

import pytest

from tracefix.deliver.forges import Gitea
from tracefix.deliver.forges import GitHub
from tracefix.deliver.forges import GitLab
from tracefix.deliver.forges import RemoteLocation
from tracefix.deliver.forges import forge_for
from tracefix.deliver.forges import parse_remote_url
from tracefix.errors import DeliveryError

TOKEN = "t0ken-value-that-must-not-leak"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/acme/shop.git",
            RemoteLocation("https", "github.com", None, "acme/shop"),
        ),
        ("https://github.com/acme/shop", RemoteLocation("https", "github.com", None, "acme/shop")),
        ("https://github.com/acme/shop/", RemoteLocation("https", "github.com", None, "acme/shop")),
        (
            "https://www.GitHub.com/acme/shop.git",
            RemoteLocation("https", "github.com", None, "acme/shop"),
        ),
        (
            f"https://x-access-token:{TOKEN}@github.com/acme/shop.git",
            RemoteLocation("https", "github.com", None, "acme/shop"),
        ),
        ("git@github.com:acme/shop.git", RemoteLocation("ssh", "github.com", None, "acme/shop")),
        ("github.com:acme/shop", RemoteLocation("ssh", "github.com", None, "acme/shop")),
        (
            "ssh://git@gitlab.example.com:2222/group/sub/project.git",
            RemoteLocation("ssh", "gitlab.example.com", None, "group/sub/project"),
        ),
        (
            "git+ssh://git@gitlab.com/group/sub/project.git",
            RemoteLocation("ssh", "gitlab.com", None, "group/sub/project"),
        ),
        (
            "git@gitlab.com:group/sub/deeper/project.git",
            RemoteLocation("ssh", "gitlab.com", None, "group/sub/deeper/project"),
        ),
        (
            "https://git.example.com:8443/team/app.git",
            RemoteLocation("https", "git.example.com", 8443, "team/app"),
        ),
    ],
)
def test_remote_urls_are_read_the_ways_git_writes_them(url: str, expected: RemoteLocation) -> None:
    assert parse_remote_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/srv/git/shop.git", "is a local path"),
        ("../shop", "is a local path"),
        ("file:///srv/git/shop.git", "is not a forge remote"),
        ("https://github.com/shop.git", "does not name an owner and a repository"),
        ("https://github.com//shop.git", "does not name an owner and a repository"),
        (f"https://u:{TOKEN}@github.com/", "does not name an owner"),
    ],
)
def test_what_names_no_forge_repository_is_refused(url: str, reason: str) -> None:
    with pytest.raises(DeliveryError, match=reason) as raised:
        parse_remote_url(url)
    assert TOKEN not in raised.value.message


def test_known_hosts_need_no_kind() -> None:
    github = forge_for("git@github.com:acme/shop.git", token=TOKEN)
    gitlab = forge_for("https://gitlab.com/group/sub/project.git", token=TOKEN)
    codeberg = forge_for("https://codeberg.org/acme/shop.git", token=TOKEN)

    assert isinstance(github, GitHub) and (github.owner, github.name) == ("acme", "shop")
    assert str(github.api.base_url) == "https://api.github.com"
    assert isinstance(gitlab, GitLab) and gitlab.repository == "group/sub/project"
    assert str(gitlab.api.base_url) == "https://gitlab.com/api/v4"
    assert isinstance(codeberg, Gitea) and codeberg.repository == "acme/shop"
    assert str(codeberg.api.base_url) == "https://codeberg.org/api/v1"


def test_a_self_hosted_forge_is_known_by_kind_by_configured_host_or_by_api_url() -> None:
    by_kind = forge_for("git@git.example.com:team/app.git", kind="github", token=TOKEN)
    by_host = forge_for(
        "git@git.example.com:team/app.git", hosts={"Git.Example.com": "gitea"}, token=TOKEN
    )
    by_api = forge_for(
        "git@git.example.com:group/sub/app.git",
        api_url="https://git.example.com/api/v4",
        token=TOKEN,
    )

    assert isinstance(by_kind, GitHub)
    assert str(by_kind.api.base_url) == "https://git.example.com/api/v3"
    assert isinstance(by_host, Gitea)
    assert str(by_host.api.base_url) == "https://git.example.com/api/v1"
    assert isinstance(by_api, GitLab) and by_api.repository == "group/sub/app"


def test_a_gitea_served_under_a_path_gets_its_api_there() -> None:
    gitea = forge_for("https://example.com/git/team/app.git", kind="gitea", token=TOKEN)

    assert gitea.repository == "team/app"
    assert str(gitea.api.base_url) == "https://example.com/git/api/v1"


def test_an_unknown_host_without_a_kind_says_what_to_pass() -> None:
    with pytest.raises(DeliveryError) as raised:
        forge_for("git@git.example.com:team/app.git", token=TOKEN)

    assert raised.value.message == (
        "cannot tell which forge git.example.com runs; pass kind='github', 'gitlab' or "
        "'gitea', or add the host to hosts"
    )


def test_more_than_owner_and_name_over_ssh_is_refused_outside_gitlab() -> None:
    with pytest.raises(DeliveryError, match="does not name an owner/repository"):
        forge_for("git@github.com:acme/shop/extra.git", token=TOKEN)


def test_the_token_never_travels_over_plain_http_except_on_loopback() -> None:
    with pytest.raises(DeliveryError, match="refusing to send the token over plain http to"):
        forge_for("http://git.example.com/team/app.git", kind="gitea", token=TOKEN)

    local = forge_for("http://127.0.0.1:3000/team/app.git", kind="gitea", token=TOKEN)
    assert str(local.api.base_url) == "http://127.0.0.1:3000/api/v1"


def test_no_token_is_refused_up_front() -> None:
    with pytest.raises(DeliveryError, match="no token given for acme/shop"):
        forge_for("git@github.com:acme/shop.git", token="")


def test_the_client_shows_no_token() -> None:
    github = forge_for(f"https://u:{TOKEN}@github.com/acme/shop.git", token=TOKEN)

    assert TOKEN not in repr(github)
    assert repr(github) == "<GitHub acme/shop at https://api.github.com>"
