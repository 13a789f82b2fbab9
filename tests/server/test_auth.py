"""People: signing in, CSRF, who sees which project, API tokens and the ``tracefix user`` and
``tracefix token`` commands, on a real SQLite database."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tracefix.cli import main
from tracefix.server import people
from tracefix.server.config import ServerConfig
from tracefix.server.models import ApiToken
from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.models import User
from tracefix.server.projects import create_project
from tracefix.server.web import create_app
from tracefix.server.web.ingest import forget_cached_projects
from tracefix.server.web.state import ServerState
from tracefix.server.web.throttle import ACCOUNT_LIMIT
from tracefix.server.web.throttle import ADDRESS_LIMIT
from tracefix.server.web.throttle import SignInThrottle

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Server:
    app: Flask
    state: ServerState
    #: Each project's id and public key.
    keys: dict[str, tuple[int, str]]
    #: Each project's issue and fix ids.
    fixtures: dict[str, tuple[int, int]]

    def client(self) -> FlaskClient:
        return self.app.test_client()


@pytest.fixture
def server(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Two projects, shop and blog, with an issue and a fix each; an admin, and dev, a member
    of shop."""
    monkeypatch.setattr(people, "password_hasher", PasswordHasher(1, 8, 1))
    app = make_app()
    state: ServerState = app.extensions["tracefix"]
    keys = {}
    with state.db.write_session() as session:
        people.create_user(session, "admin@example.com", PASSWORD)
        people.create_user(session, "dev@example.com", PASSWORD)
        for name in ("shop", "blog"):
            project = create_project(session, name)
            keys[name] = (project.id, project.public_key)
        people.add_member(session, "dev@example.com", "shop")
    fixtures = {}
    for name, (project_id, key) in keys.items():
        response = app.test_client().post(
            f"/api/{project_id}/store/",
            data=json.dumps(
                {
                    "event_id": uuid.uuid4().hex,
                    "exception": {"values": [{"type": "KeyError", "value": f"{name} failed"}]},
                }
            ),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"},
        )
        assert response.status_code == 200
        assert state.jobs.wait_digested(5)  # type: ignore[attr-defined]
        with state.db.write_session() as session:
            issue_id = session.scalar(select(Issue.id).where(Issue.project_id == project_id))
            assert issue_id is not None
            fix = Fix(issue_id=issue_id, state="verified")
            session.add(fix)
            session.flush()
            fixtures[name] = (issue_id, fix.id)
    return Server(app, state, keys, fixtures)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match is not None
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str) -> int:
    data = {"email": email, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post("/login", data=data).status_code


def signed_in(server: Server, email: str = "dev@example.com") -> FlaskClient:
    client = server.client()
    assert sign_in(client, email) == 302
    return client


# Users and passwords ---------------------------------------------------------------------------


def test_the_first_user_is_an_admin_and_passwords_are_argon2_hashes(server: Server) -> None:
    with server.state.db.session() as session:
        users = {u.email: u for u in session.scalars(select(User))}
    assert users["admin@example.com"].is_admin
    assert not users["dev@example.com"].is_admin
    assert users["dev@example.com"].password_hash.startswith("$argon2id$")
    assert PASSWORD not in users["dev@example.com"].password_hash


def test_users_are_refused_with_a_bad_email_a_short_password_or_a_taken_email(
    server: Server,
) -> None:
    with server.state.db.write_session() as session:
        for email, password in (
            ("not-an-email", PASSWORD),
            ("new@example.com", "short"),
            ("DEV@example.com", PASSWORD),
        ):
            with pytest.raises(people.PeopleError):
                people.create_user(session, email, password)


def test_pages_need_a_signed_in_user(server: Server) -> None:
    issue_id, fix_id = server.fixtures["shop"]
    client = server.client()
    for path in ("/", "/projects/shop/issues", f"/issues/{issue_id}", f"/fixes/{fix_id}"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


def test_sign_in_and_out(server: Server) -> None:
    client = server.client()
    assert sign_in(client, "dev@example.com", "wrong password") == 401
    assert sign_in(client, "nobody@example.com") == 401
    assert client.get("/").status_code == 302

    assert sign_in(client, "Dev@Example.com", next="/projects/shop/issues") == 302
    assert client.get("/projects/shop/issues").status_code == 200

    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_sign_in_goes_back_to_this_site_only(server: Server) -> None:
    for target, expected in (
        ("/projects/shop/issues", "/projects/shop/issues"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        client = server.client()
        data = {"email": "dev@example.com", "password": PASSWORD}
        data["csrf_token"] = csrf_token(client)
        response = client.post(f"/login?next={target}", data=data)
        assert response.headers["Location"] == expected, target


def test_a_password_change_ends_the_users_sessions(server: Server) -> None:
    client = signed_in(server)
    with server.state.db.write_session() as session:
        user = people.user_by_email(session, "dev@example.com")
        assert user is not None
        people.set_password(session, user, "another long password")
    assert client.get("/").status_code == 302


# CSRF ------------------------------------------------------------------------------------------


def test_a_form_post_without_the_csrf_token_is_refused(server: Server) -> None:
    issue_id, _ = server.fixtures["shop"]
    anonymous = server.client()
    refused = anonymous.post("/login", data={"email": "dev@example.com", "password": PASSWORD})
    assert refused.status_code == 400
    assert anonymous.get("/").status_code == 302

    client = signed_in(server)
    for path, data in (
        (f"/issues/{issue_id}/status", {"status": "resolved"}),
        (f"/issues/{issue_id}/merge", {"other": "1"}),
        ("/settings/tokens", {"name": "x"}),
        ("/logout", {}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "The form was refused" in response.get_data(as_text=True)
        forged = client.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 400, path
    with server.state.db.session() as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None and issue.status == "unresolved"
    assert client.get("/").status_code == 200  # still signed in


def test_ingest_needs_no_csrf_token_even_with_a_session(server: Server) -> None:
    client = signed_in(server, "admin@example.com")
    project_id, key = server.keys["shop"]
    response = client.post(
        f"/api/{project_id}/store/",
        data=json.dumps({"exception": {"values": [{"type": "E", "value": "v"}]}}),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"},
    )
    assert response.status_code == 200


# Who sees what ---------------------------------------------------------------------------------


def test_a_projects_issues_and_fixes_are_visible_to_its_members_only(server: Server) -> None:
    shop_issue, shop_fix = server.fixtures["shop"]
    blog_issue, blog_fix = server.fixtures["blog"]
    dev = signed_in(server)

    for path in ("/projects/shop/issues", f"/issues/{shop_issue}", f"/fixes/{shop_fix}"):
        assert dev.get(path).status_code == 200, path
    for path in ("/projects/blog/issues", f"/issues/{blog_issue}", f"/fixes/{blog_fix}"):
        assert dev.get(path).status_code == 404, path
    token = csrf_token(dev, "/")
    for path, data in (
        (f"/issues/{blog_issue}/status", {"status": "resolved"}),
        (f"/issues/{blog_issue}/merge", {"other": str(blog_issue)}),
    ):
        assert dev.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    projects = dev.get("/").get_data(as_text=True)
    assert "/projects/shop/issues" in projects and "/projects/blog/issues" not in projects

    admin = signed_in(server, "admin@example.com")
    for path in ("/projects/blog/issues", f"/issues/{blog_issue}", f"/fixes/{blog_fix}"):
        assert admin.get(path).status_code == 200, path

    with server.state.db.write_session() as session:
        people.add_member(session, "dev@example.com", "blog")
        people.add_member(session, "dev@example.com", "blog")  # twice is fine
    assert dev.get(f"/issues/{blog_issue}").status_code == 200


def test_an_admin_manages_people_and_members_on_the_people_page(server: Server) -> None:
    """Creating a user and giving and taking a project away, through the page's forms: what the
    new user can see follows; bad input is a 400 with the reason, and changes nothing."""
    blog_issue, _ = server.fixtures["blog"]
    admin = signed_in(server, "admin@example.com")
    page = admin.get("/settings/people").get_data(as_text=True)
    assert "dev@example.com" in page and "<code>shop</code>" in page
    token = csrf_token(admin, "/settings/people")

    created = admin.post(
        "/settings/people",
        data={"email": "Ops@Example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert created.status_code == 302
    ops = signed_in(server, "ops@example.com")
    assert ops.get(f"/issues/{blog_issue}").status_code == 404

    added = {"email": "ops@example.com", "project": "blog", "csrf_token": token}
    assert admin.post("/settings/people/members", data=added).status_code == 302
    assert ops.get(f"/issues/{blog_issue}").status_code == 200
    assert "<code>blog</code>" in admin.get("/settings/people").get_data(as_text=True)

    removal = admin.post("/settings/people/members/remove", data=added)
    assert removal.status_code == 302
    assert ops.get(f"/issues/{blog_issue}").status_code == 404
    again = admin.post("/settings/people/members/remove", data=added)
    assert again.status_code == 400 and "is not a member of" in again.get_data(as_text=True)

    for path, data, reason in (
        ("/settings/people", {"email": "dev@example.com", "password": PASSWORD}, "exists already"),
        ("/settings/people", {"email": "new@example.com", "password": "short"}, "at least"),
        ("/settings/people/members", {"email": "ghost@example.com", "project": "blog"}, "no user"),
        ("/settings/people/members", {"email": "ops@example.com", "project": "wiki"}, "no project"),
    ):
        refused = admin.post(path, data={**data, "csrf_token": token})
        assert refused.status_code == 400 and reason in refused.get_data(as_text=True), path
    with server.state.db.session() as session:
        listed = {user.email: names for user, names in people.users_and_their_projects(session)}
    assert listed == {
        "admin@example.com": [],
        "dev@example.com": ["shop"],
        "ops@example.com": [],
    }


def test_the_people_page_is_for_admins_only(server: Server) -> None:
    dev = signed_in(server)
    assert "/settings/people" not in dev.get("/").get_data(as_text=True)
    assert dev.get("/settings/people").status_code == 403
    token = csrf_token(dev, "/")
    for path, data in (
        ("/settings/people", {"email": "x@example.com", "password": PASSWORD}),
        ("/settings/people/members", {"email": "dev@example.com", "project": "blog"}),
        ("/settings/people/members/remove", {"email": "dev@example.com", "project": "shop"}),
    ):
        assert dev.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    with server.state.db.session() as session:
        listed = {user.email: names for user, names in people.users_and_their_projects(session)}
    assert listed == {"admin@example.com": [], "dev@example.com": ["shop"]}
    admin = signed_in(server, "admin@example.com")
    assert "/settings/people" in admin.get("/").get_data(as_text=True)
    assert server.client().get("/settings/people").status_code == 302  # to the sign-in page


# API tokens ----------------------------------------------------------------------------------


def test_a_token_created_on_the_page_is_shown_once_and_stored_as_its_sha256(
    server: Server,
) -> None:
    client = signed_in(server)
    token = csrf_token(client, "/settings/tokens")

    created = client.post("/settings/tokens", data={"name": "ci", "csrf_token": token})

    assert created.status_code == 201
    match = re.search(r'id="new-token">(tfx_[^<]+)<', created.get_data(as_text=True))
    assert match is not None
    secret = match.group(1)
    with server.state.db.session() as session:
        stored = session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in client.get("/settings/tokens").get_data(as_text=True)
    api = server.client().get("/api/0/projects/", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200 and [p["name"] for p in api.get_json()] == ["shop"]

    revoke = client.post(f"/settings/tokens/{stored.id}/revoke", data={"csrf_token": token})
    assert revoke.status_code == 302
    again = server.client().get("/api/0/projects/", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401


def test_a_user_cannot_revoke_another_users_token(server: Server) -> None:
    with server.state.db.write_session() as session:
        admin = people.user_by_email(session, "admin@example.com")
        assert admin is not None
        token_id = people.create_token(session, admin, "admin's").token.id
    client = signed_in(server)
    response = client.post(
        f"/settings/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/")}
    )
    assert response.status_code == 404


def _bearer(server: Server, email: str) -> dict[str, str]:
    with server.state.db.write_session() as session:
        user = people.user_by_email(session, email)
        assert user is not None
        return {"Authorization": f"Bearer {people.create_token(session, user, 'x').secret}"}


def test_the_api_needs_a_valid_bearer_token_not_a_session(server: Server) -> None:
    client = signed_in(server)  # a session cookie does not open the API
    for headers in ({}, {"Authorization": "Bearer tfx_unknown"}, {"Authorization": "Basic eDp5"}):
        response = client.get("/api/0/projects/", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "detail" in response.get_json()


def test_a_bearer_request_needs_no_csrf_token_and_sees_member_projects_only(
    server: Server,
) -> None:
    shop_issue, shop_fix = server.fixtures["shop"]
    blog_issue, blog_fix = server.fixtures["blog"]
    client, headers = server.client(), _bearer(server, "dev@example.com")

    update = client.put(
        f"/api/0/issues/{shop_issue}/", json={"status": "resolved"}, headers=headers
    )
    assert update.status_code == 200 and update.get_json()["status"] == "resolved"

    for path in (
        "/api/0/projects/blog/issues/",
        f"/api/0/issues/{blog_issue}/",
        f"/api/0/fixes/{blog_fix}/",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 404 and response.is_json, path
    refused = client.put(
        f"/api/0/issues/{blog_issue}/", json={"status": "resolved"}, headers=headers
    )
    assert refused.status_code == 404
    admin = _bearer(server, "admin@example.com")
    assert client.get(f"/api/0/fixes/{blog_fix}/", headers=admin).status_code == 200
    assert client.get(f"/api/0/fixes/{shop_fix}/", headers=headers).status_code == 200


def test_a_token_records_when_it_was_last_used(server: Server) -> None:
    headers = _bearer(server, "dev@example.com")
    server.client().get("/api/0/projects/", headers=headers)
    with server.state.db.session() as session:
        assert session.scalars(select(ApiToken)).one().last_used_at is not None


# The commands ---------------------------------------------------------------------------------


def test_the_user_and_token_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people, "password_hasher", PasswordHasher(1, 8, 1))
    monkeypatch.setenv("TRACEFIX_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACEFIX_DATABASE_URL", raising=False)
    forget_cached_projects()
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> str:
        result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("project", "create", "shop")
    assert "is an admin" in run(
        "user", "create", "ops@example.com", "--password-stdin", input=f"{PASSWORD}\n"
    )
    assert "is a user" in run(
        "user", "create", "dev@example.com", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    run("user", "add-member", "dev@example.com", "shop")
    secret = run("token", "create", "dev@example.com", "deploy-bot").strip()

    refused = runner.invoke(
        main, ["user", "create", "dev@example.com", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert refused.exit_code == 1 and "exists already" in refused.output
    missing = runner.invoke(main, ["user", "add-member", "ghost@example.com", "shop"])
    assert missing.exit_code == 1 and "no user" in missing.output
    run("user", "add-member", "ops@example.com", "shop")
    assert "no longer a member" in run("user", "remove-member", "ops@example.com", "shop")
    again = runner.invoke(main, ["user", "remove-member", "ops@example.com", "shop"])
    assert again.exit_code == 1 and "is not a member of 'shop'" in again.output

    app = create_app(ServerConfig.from_env())
    state: ServerState = app.extensions["tracefix"]
    try:
        client = app.test_client()
        response = client.get("/api/0/projects/", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 200 and [p["name"] for p in response.get_json()] == ["shop"]
        assert sign_in(client, "dev@example.com") == 302
        with state.db.session() as session:
            assert session.scalar(select(User.is_admin).where(User.email == "ops@example.com"))
            assert secret not in {t.token_hash for t in session.scalars(select(ApiToken))}
    finally:
        state.close()


# Password guessing ----------------------------------------------------------------------------


def test_an_account_is_throttled_after_repeated_failed_sign_ins(server: Server) -> None:
    guesser = server.client()
    for _ in range(ACCOUNT_LIMIT):
        assert sign_in(guesser, "dev@example.com", "wrong-password-1") == 401
    refused = guesser.post(
        "/login",
        data={
            "email": "DEV@example.com",  # the account, however it is spelled
            "password": PASSWORD,  # even the right password: nothing is verified
            "csrf_token": csrf_token(guesser),
        },
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # Another account from the same address is still let in.
    assert sign_in(server.client(), "admin@example.com") == 302


def test_an_address_is_throttled_across_accounts_and_a_success_clears_only_its_account(
    server: Server,
) -> None:
    throttle = server.state.sign_in_throttle
    for index in range(ADDRESS_LIMIT - 1):
        throttle.failed(f"nobody{index}@example.com", "127.0.0.1")
    assert sign_in(server.client(), "admin@example.com") == 302  # the limit is not reached yet
    assert sign_in(server.client(), "ghost@example.com", "guess") == 401  # the 30th failure
    assert sign_in(server.client(), "admin@example.com") == 429


def test_the_throttle_forgets_failures_once_out_of_the_window() -> None:
    now = [1000.0]
    throttle = SignInThrottle(account_limit=3, address_limit=100, window=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.failed("dev@example.com", "10.0.0.1")
        now[0] += 10
    assert throttle.retry_after("dev@example.com", "10.0.0.2") == 30  # 1000 + 60 - 1030
    now[0] += 30
    assert throttle.retry_after("dev@example.com", "10.0.0.2") == 0
    throttle.failed("dev@example.com", "10.0.0.1")
    assert throttle.retry_after("dev@example.com", "10.0.0.2") > 0
    throttle.succeeded("Dev@Example.com")
    assert throttle.retry_after("dev@example.com", "10.0.0.2") == 0
