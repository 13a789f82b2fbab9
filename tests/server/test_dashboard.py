"""The dashboard and the JSON API on a real SQLite database, with events sent through the real
ingest endpoint and grouped by the real digest."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tracefix.server import people
from tracefix.server.models import Event
from tracefix.server.models import Fix
from tracefix.server.models import GroupHash
from tracefix.server.models import Issue
from tracefix.server.projects import create_project
from tracefix.server.web.state import ServerState

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Server:
    app: Flask
    state: ServerState
    keys: dict[str, tuple[int, str]]

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def send(self, project: str, **fields: Any) -> str:
        """Post one event to the ingest endpoint and wait until it is digested."""
        project_id, key = self.keys[project]
        event = make_event(**fields)
        response = self.client().post(
            f"/api/{project_id}/store/",
            data=json.dumps(event),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.data
        assert self.state.jobs.wait_digested(5)  # type: ignore[attr-defined]
        return str(event["event_id"])

    def issue_of(self, event_id: str) -> Issue:
        with self.state.db.session() as session:
            event = session.scalar(select(Event).where(Event.event_id == event_id))
            assert event is not None and event.issue_id is not None
            issue = session.get(Issue, event.issue_id)
            assert issue is not None
            return issue

    def issue(self, issue_id: int) -> Issue:
        with self.state.db.session() as session:
            issue = session.get(Issue, issue_id)
            assert issue is not None
            return issue

    def add_fix(self, issue_id: int, **fields: Any) -> int:
        with self.state.db.write_session() as session:
            fix = Fix(issue_id=issue_id, **fields)
            session.add(fix)
            session.flush()
            return fix.id


def make_event(
    *,
    value: str = "Working outside of application context.",
    type: str = "RuntimeError",
    fingerprint: list[str] | None = None,
    release: str | None = "1.0.0",
    environment: str | None = "production",
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": type,
                    "value": value,
                    "module": "builtins",
                    "mechanism": {"type": "flask", "handled": False},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "flask/app.py",
                                "function": "full_dispatch_request",
                                "module": "flask.app",
                                "lineno": 917,
                                "in_app": False,
                                "context_line": "rv = self.dispatch_request()",
                            },
                            {
                                "filename": "shop/views.py",
                                "function": "checkout",
                                "module": "shop.views",
                                "lineno": 42,
                                "in_app": True,
                                "pre_context": [
                                    "def checkout(cart_id):",
                                    "    cart = load(cart_id)",
                                ],
                                "context_line": "    send_receipt(cart)",
                                "post_context": ["    return 'ok'"],
                                "vars": {"cart_id": "7", "cart": "<Cart 7>"},
                            },
                        ]
                    },
                }
            ]
        },
        "contexts": {
            "flask": {
                "type": "flask",
                "app_context": False,
                "request_context": True,
                "app": "shop",
                "endpoint": "shop.checkout",
                "method": "POST",
                "url": "http://shop.test/checkout/7",
                "url_rule": "/checkout/<int:cart_id>",
            },
            "runtime": {"type": "runtime", "name": "CPython", "version": "3.11.9"},
        },
        "request": {
            "url": "http://shop.test/checkout/7",
            "method": "POST",
            "headers": {"User-Agent": "pytest"},
        },
        "tags": {"server": "web-1"},
        **extra,
    }
    if fingerprint is not None:
        event["fingerprint"] = fingerprint
    if release is not None:
        event["release"] = release
    if environment is not None:
        event["environment"] = environment
    return event


@pytest.fixture
def server(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Two projects, shop and blog; an admin, and dev, a member of shop."""
    # Argon2 at its lowest cost: the same code path, a millisecond per login.
    monkeypatch.setattr(people, "password_hasher", PasswordHasher(1, 8, 1))
    app = make_app()
    server_state: ServerState = app.extensions["tracefix"]
    keys = {}
    with server_state.db.write_session() as session:
        people.create_user(session, "admin@example.com", PASSWORD)
        people.create_user(session, "dev@example.com", PASSWORD)
        for name in ("shop", "blog"):
            project = create_project(session, name)
            keys[name] = (project.id, project.public_key)
        people.add_member(session, "dev@example.com", "shop")
    return Server(app, server_state, keys)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match is not None
    return match.group(1)


def signed_in(server: Server, email: str = "dev@example.com") -> FlaskClient:
    client = server.client()
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    return client


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def post_form(client: FlaskClient, path: str, data: dict[str, Any], status: int = 302) -> Any:
    token = csrf_token(client, "/settings/tokens")
    response = client.post(path, data={**data, "csrf_token": token})
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response


# The issue list ---------------------------------------------------------------------------------


def test_the_issue_list_shows_the_projects_issues(server: Server) -> None:
    first = server.send("shop", fingerprint=["one"], value="first failure")
    server.send("shop", fingerprint=["two"], value="second failure")
    server.send("blog", fingerprint=["three"], value="a blog failure")
    client = signed_in(server)

    html = page(client, "/projects/shop/issues")

    assert "first failure" in html and "second failure" in html
    assert "a blog failure" not in html
    assert f'/issues/{server.issue_of(first).id}"' in html
    assert "shop.views in checkout" in html
    projects = page(client, "/")
    assert "/projects/shop/issues" in projects and "blog" not in projects


def test_the_issue_list_filters_by_status_environment_release_and_text(server: Server) -> None:
    resolved = server.send("shop", fingerprint=["a"], value="alpha", environment="staging")
    server.send("shop", fingerprint=["b"], value="beta", release="2.0.0")
    server.send("shop", fingerprint=["c"], value="gamma")
    with server.state.db.write_session() as session:
        issue = session.get(Issue, server.issue_of(resolved).id)
        assert issue is not None
        issue.status = "resolved"
    client = signed_in(server)

    def titles(query: str) -> set[str]:
        html = page(client, f"/projects/shop/issues?{query}")
        return {t for t in ("alpha", "beta", "gamma") if f"RuntimeError: {t}<" in html}

    assert titles("") == {"beta", "gamma"}
    assert titles("status=resolved") == {"alpha"}
    assert titles("status=all") == {"alpha", "beta", "gamma"}
    assert titles("status=all&environment=staging") == {"alpha"}
    assert titles("status=all&release=2.0.0") == {"beta"}
    assert titles("status=all&query=GAMM") == {"gamma"}
    assert titles("status=all&query=shop.views") == {"alpha", "beta", "gamma"}
    assert titles("status=all&query=100%25") == set()  # LIKE wildcards are literal
    html = page(client, "/projects/shop/issues")
    assert '<option value="staging">' in html and '<option value="2.0.0">' in html


def test_the_issue_list_sorts_and_pages(server: Server) -> None:
    for n in range(27):
        server.send("shop", fingerprint=[f"f{n}"], value=f"failure number {n:02d}")
    busiest = server.send("shop", fingerprint=["f3"], value="failure number 03")
    client = signed_in(server)

    first_page = page(client, "/projects/shop/issues")
    second_page = page(client, "/projects/shop/issues?page=2")

    assert "27 issues" in first_page
    assert "page 1 of 2" in first_page and "page=2" in first_page
    assert first_page.count('class="issue-title"') == 25
    assert second_page.count('class="issue-title"') == 2
    assert "failure number 00" in second_page  # last seen first: the oldest is last
    by_events = page(client, "/projects/shop/issues?sort=events")
    assert by_events.index("failure number 03") < by_events.index("failure number 26")
    by_first_seen = page(client, "/projects/shop/issues?sort=first_seen")
    assert by_first_seen.index("failure number 26") < by_first_seen.index("failure number 04")
    assert server.issue_of(busiest).event_count == 2
    assert page(client, "/projects/shop/issues?page=99").count('class="issue-title"') == 2


# The issue page ---------------------------------------------------------------------------------


def test_the_issue_page_shows_the_stack_flask_state_chart_and_releases(server: Server) -> None:
    server.send("shop", fingerprint=["x"], release="1.0.0")
    latest = server.send("shop", fingerprint=["x"], release="1.1.0", environment="staging")
    issue = server.issue_of(latest)
    client = signed_in(server)

    html = page(client, f"/issues/{issue.id}")

    assert f"<code>{latest}</code>" in html  # the latest event
    assert '<li class="frame in-app">\n          <details open>' in html
    assert '<li class="frame library">\n          <details>' in html
    assert '<span class="lineno">42</span><span class="code">    send_receipt(cart)' in html
    assert 'class="line current"' in html
    assert '<span class="lineno">40</span><span class="code">def checkout(cart_id):' in html
    assert '<th scope="row">cart</th><td><code>&lt;Cart 7&gt;</code>' in html
    flask = html[html.index('id="flask"') : html.index('id="request"')]
    assert "shop.checkout" in flask and "/checkout/&lt;int:cart_id&gt;" in flask
    assert "request_context" in flask
    assert "User-Agent" in html and "web-1" in html and "CPython" in html
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert chart.count("<rect") == 24
    assert chart.count('class="bar"') == 1 and "2 events</title>" in chart
    releases = html[html.index('id="releases"') :]
    assert "1.0.0" in releases and "1.1.0" in releases and "staging" in releases
    month = page(client, f"/issues/{issue.id}?chart=30d")
    assert month[month.index("<svg") : month.index("</svg>")].count("<rect") == 30


def test_the_issue_page_steps_through_the_events(server: Server) -> None:
    first = server.send("shop", fingerprint=["x"], value="first")
    second = server.send("shop", fingerprint=["x"], value="second")
    issue = server.issue_of(second)
    with server.state.db.session() as session:
        first_id, second_id = session.scalars(
            select(Event.id).where(Event.issue_id == issue.id).order_by(Event.id)
        ).all()
    client = signed_in(server)

    latest = page(client, f"/issues/{issue.id}")
    older = page(client, f"/issues/{issue.id}?event={first_id}")

    assert f"event={first_id}" in latest and "newer event" not in latest
    assert f"<code>{first}</code>" in older and f"event={second_id}" in older
    page(client, f"/issues/{issue.id}?event=999999", status=404)


def test_event_data_is_rendered_inert(server: Server) -> None:
    script = "<script>alert(document.cookie)</script>"
    event_id = server.send(
        "shop",
        value=script,
        type="Evil<img src=x onerror=alert(1)>",
        tags={"payload": script},
        contexts={"flask": {"type": "flask", "url": script, "endpoint": '"><svg onload=1>'}},
    )
    issue = server.issue_of(event_id)
    fix_id = server.add_fix(issue.id, state="verified", diff=f"+{script}\n", log=script)
    client = signed_in(server)

    for path in ("/projects/shop/issues", f"/issues/{issue.id}", f"/fixes/{fix_id}"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html and "<svg onload" not in html, path
        assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in html, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_events_of_odd_shapes_do_not_break_the_page(server: Server) -> None:
    odd = server.send(
        "shop",
        exception={
            "values": [
                {
                    "type": 5,
                    "value": {"nested": ["x"]},
                    "stacktrace": {"frames": [{"vars": "not a dict", "lineno": "x"}, "junk"]},
                },
                "junk",
            ]
        },
        contexts={"flask": "not a dict", "other": [1, 2]},
        request="a string",
        tags=[["release-train", "blue"], ["broken"]],
        threads={"values": [{"id": 7, "crashed": True}]},
    )
    message_only = server.send("shop", exception=None, message="just a message")
    client = signed_in(server)

    html = page(client, f"/issues/{server.issue_of(odd).id}")
    assert "release-train" in html and "blue" in html
    assert "<code>7</code>" in html  # the crashed thread
    assert "just a message" in page(client, f"/issues/{server.issue_of(message_only).id}")


def test_a_sentry_sdk_event_shows_its_request(server: Server) -> None:
    event_id = server.send(
        "shop",
        contexts={"trace": {"trace_id": "abc", "op": "http.server"}},
        request={
            "url": "http://shop.test/cart",
            "method": "GET",
            "query_string": "page=2",
            "headers": [["Host", "shop.test"], ["Accept", "text/html"]],
        },
        transaction="/cart",
        sdk={"name": "sentry.python.flask", "version": "2.20.0"},
    )
    html = page(signed_in(server), f"/issues/{server.issue_of(event_id).id}")

    assert 'id="flask"' not in html
    assert "page=2" in html and "text/html" in html and "sentry.python.flask 2.20.0" in html
    assert "http.server" in html


# Status and merge -------------------------------------------------------------------------------


def test_status_actions_resolve_ignore_and_unresolve(server: Server) -> None:
    issue_id = server.issue_of(server.send("shop", fingerprint=["x"])).id
    client = signed_in(server)
    assert 'value="resolved"' in page(client, f"/issues/{issue_id}")

    post_form(client, f"/issues/{issue_id}/status", {"status": "resolved"})
    assert server.issue(issue_id).status == "resolved"
    assert server.issue(issue_id).resolved_at is not None
    assert "RuntimeError" in page(client, "/projects/shop/issues?status=resolved")

    server.send("shop", fingerprint=["x"])
    assert server.issue(issue_id).status == "regressed"

    post_form(client, f"/issues/{issue_id}/status", {"status": "ignored"})
    assert server.issue(issue_id).status == "ignored"
    post_form(client, f"/issues/{issue_id}/status", {"status": "unresolved"})
    assert server.issue(issue_id).status == "unresolved"
    assert server.issue(issue_id).resolved_at is None

    post_form(client, f"/issues/{issue_id}/status", {"status": "regressed"}, status=400)
    post_form(client, f"/issues/{issue_id}/status", {"status": "merged"}, status=400)
    assert server.issue(issue_id).status == "unresolved"


def test_merge_sends_later_events_of_the_merged_fingerprint_to_the_issue(server: Server) -> None:
    kept = server.issue_of(server.send("shop", fingerprint=["kept"], value="kept")).id
    merged = server.issue_of(server.send("shop", fingerprint=["merged"], value="merged")).id
    client = signed_in(server)
    assert f'<option value="{merged}">' in page(client, f"/issues/{kept}")

    post_form(client, f"/issues/{kept}/merge", {"other": str(merged)})

    later = server.send("shop", fingerprint=["merged"], value="merged")
    assert server.issue_of(later).id == kept
    assert server.issue(kept).event_count == 3
    assert server.issue(merged).merged_into_id == kept
    with server.state.db.session() as session:
        assert {h.issue_id for h in session.scalars(select(GroupHash))} == {kept}
    redirect = client.get(f"/issues/{merged}")
    assert redirect.status_code == 302 and redirect.headers["Location"] == f"/issues/{kept}"
    listed = page(client, "/projects/shop/issues?status=all")
    assert f'/issues/{merged}"' not in listed


def test_merge_refuses_an_issue_of_another_project_or_itself(server: Server) -> None:
    shop = server.issue_of(server.send("shop", fingerprint=["a"])).id
    blog = server.issue_of(server.send("blog", fingerprint=["b"])).id
    client = signed_in(server, "admin@example.com")

    post_form(client, f"/issues/{shop}/merge", {"other": str(blog)}, status=400)
    post_form(client, f"/issues/{shop}/merge", {"other": str(shop)}, status=400)
    post_form(client, f"/issues/{shop}/merge", {"other": "nonsense"}, status=400)
    assert server.issue(blog).merged_into_id is None


# Fixes ----------------------------------------------------------------------------------------

DIFF = """\
diff --git a/scripts/seed.py b/scripts/seed.py
--- a/scripts/seed.py
+++ b/scripts/seed.py
@@ -1,3 +1,4 @@
 from shop import create_app
-seed()
+with create_app().app_context():
+    seed()
"""


def test_the_fix_page_shows_diagnosis_diff_log_delivery_and_checks(server: Server) -> None:
    issue_id = server.issue_of(server.send("shop", fingerprint=["x"])).id
    fix_id = server.add_fix(
        issue_id,
        release="1.0.0",
        state="delivered",
        code="CTX101",
        diagnosis={
            "code": "CTX101",
            "summary": "A script uses the app outside an app context.",
            "explanation": "scripts/seed.py:2 calls seed() at module level.",
        },
        diff=DIFF,
        log="reproduced: yes\nfixed command passed\n",
        branch="tracefix/ctx101-1",
        commit_sha="abc123",
        pr_url="https://github.com/acme/shop/pull/12",
        pr_number=12,
        checks=[
            {"name": "tests", "state": "success", "detail": "success", "url": "https://ci/1"},
            {"name": "lint", "state": "failure", "detail": "failed", "url": "javascript:alert(1)"},
        ],
        checks_state="failure",
    )
    client = signed_in(server)

    html = page(client, f"/fixes/{fix_id}")

    assert "CTX101" in html and "A script uses the app outside an app context." in html
    assert "scripts/seed.py:2 calls seed() at module level." in html
    assert '<div class="line del">-seed()</div>' in html
    assert '<div class="line add">+with create_app().app_context():</div>' in html
    assert '<div class="line hunk">@@ -1,3 +1,4 @@</div>' in html
    assert '<div class="line meta">+++ b/scripts/seed.py</div>' in html
    assert '<div class="line context"> from shop import create_app</div>' in html
    assert "fixed command passed" in html
    assert "tracefix/ctx101-1" in html and "abc123" in html
    assert 'href="https://github.com/acme/shop/pull/12"' in html
    assert 'id="checks-state">failure<' in html
    assert 'href="https://ci/1"' in html and "javascript:" not in html
    assert 'id="fix-state">delivered<' in html
    issue_page = page(client, f"/issues/{issue_id}")
    assert f'href="/fixes/{fix_id}"' in issue_page and "CTX101" in issue_page


def test_a_fix_of_an_issue_merged_away_is_listed_on_the_merged_issue(server: Server) -> None:
    kept = server.issue_of(server.send("shop", fingerprint=["kept"])).id
    merged = server.issue_of(server.send("shop", fingerprint=["merged"])).id
    fix_id = server.add_fix(merged, state="no_fix")
    client = signed_in(server)
    post_form(client, f"/issues/{kept}/merge", {"other": str(merged)})

    assert f'href="/fixes/{fix_id}"' in page(client, f"/issues/{kept}")
    page(client, f"/fixes/{fix_id}")


def test_a_finished_undelivered_fix_can_be_tried_again(server: Server) -> None:
    """The button queues the attempt afresh (its old outcome cleared) and starts the fix job;
    a delivered attempt, one of an older release than the issue's events, or another project's
    cannot be."""
    issue_id = server.issue_of(server.send("shop", fingerprint=["again"], release="2.0")).id
    failed = server.add_fix(
        issue_id, release="2.0", state="failed", error="the checkout failed", diff=DIFF
    )
    delivered = server.add_fix(issue_id, release="1.0", state="delivered", diff=DIFF)
    started: list[int] = []
    server.state.jobs.fix = started.append  # type: ignore[method-assign]
    client = signed_in(server)

    assert 'id="try-again"' in page(client, f"/fixes/{failed}")
    assert 'id="try-again"' not in page(client, f"/fixes/{delivered}")
    post_form(client, f"/fixes/{failed}/again", {})

    assert started == [issue_id]
    with server.state.db.session() as session:
        fix = session.get(Fix, failed)
        assert fix is not None
        assert (fix.state, fix.error, fix.diff, fix.log) == ("queued", None, None, "")
    assert 'id="fix-state">queued<' in page(client, f"/fixes/{failed}")
    post_form(client, f"/fixes/{failed}/again", {}, status=409)
    post_form(client, f"/fixes/{delivered}/again", {}, status=409)
    with server.state.db.write_session() as session:
        fix = session.get(Fix, failed)
        assert fix is not None
        fix.state, fix.release = "no_fix", "1.9"
    conflict = post_form(client, f"/fixes/{failed}/again", {}, status=409)
    assert "latest event is from release 2.0" in conflict.get_data(as_text=True)
    blog = server.issue_of(server.send("blog", fingerprint=["theirs"])).id
    theirs = server.add_fix(blog, state="failed")
    started.clear()
    post_form(client, f"/fixes/{theirs}/again", {}, status=404)
    assert started == []


def test_a_missing_fix_or_issue_is_a_404(server: Server) -> None:
    client = signed_in(server)
    page(client, "/fixes/12345", status=404)
    page(client, "/issues/12345", status=404)
    page(client, "/projects/nothing/issues", status=404)


# The JSON API ----------------------------------------------------------------------------------


def bearer(server: Server, email: str = "dev@example.com") -> dict[str, str]:
    with server.state.db.write_session() as session:
        user = people.user_by_email(session, email)
        assert user is not None
        secret = people.create_token(session, user, "tests").secret
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_lists_projects_and_issues_and_gets_an_issue_and_a_fix(server: Server) -> None:
    event_id = server.send("shop", fingerprint=["x"], value="api failure")
    server.send("shop", fingerprint=["y"], value="other failure", environment="staging")
    issue_id = server.issue_of(event_id).id
    fix_id = server.add_fix(issue_id, state="verified", code="CTX101", diff=DIFF)
    client, headers = server.client(), bearer(server)

    projects = client.get("/api/0/projects/", headers=headers).get_json()
    listed = client.get("/api/0/projects/shop/issues/", headers=headers).get_json()
    filtered = client.get(
        "/api/0/projects/shop/issues/?environment=staging&sort=events", headers=headers
    ).get_json()
    detail = client.get(f"/api/0/issues/{issue_id}/", headers=headers).get_json()
    fix = client.get(f"/api/0/fixes/{fix_id}/", headers=headers).get_json()

    assert [p["name"] for p in projects] == ["shop"] and projects[0]["open_issues"] == 2
    assert listed["total"] == 2 and {i["title"] for i in listed["issues"]} == {
        "RuntimeError: api failure",
        "RuntimeError: other failure",
    }
    assert [i["title"] for i in filtered["issues"]] == ["RuntimeError: other failure"]
    assert detail["status"] == "unresolved" and detail["count"] == 1
    assert detail["latest_event"]["event_id"] == event_id
    assert detail["releases"][0]["release"] == "1.0.0"
    assert detail["fixes"] == [
        {"id": fix_id, "state": "verified", "release": "", "code": "CTX101", "pr_url": None}
    ]
    assert detail["url"].endswith(f"/issues/{issue_id}")
    assert fix["diff"] == DIFF and fix["state"] == "verified" and fix["issue"] == issue_id


def test_the_api_updates_an_issues_status(server: Server) -> None:
    issue_id = server.issue_of(server.send("shop", fingerprint=["x"])).id
    client, headers = server.client(), bearer(server)

    resolved = client.put(
        f"/api/0/issues/{issue_id}/", json={"status": "resolved"}, headers=headers
    )
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    assert server.issue(issue_id).status == "resolved"
    ignored = client.patch(
        f"/api/0/issues/{issue_id}/", json={"status": "ignored"}, headers=headers
    )
    assert ignored.get_json()["status"] == "ignored"

    bad = client.put(f"/api/0/issues/{issue_id}/", json={"status": "gone"}, headers=headers)
    assert bad.status_code == 400 and "status must be one of" in bad.get_json()["detail"]
    empty = client.put(f"/api/0/issues/{issue_id}/", data="x", headers=headers)
    assert empty.status_code == 400
    assert server.issue(issue_id).status == "ignored"
