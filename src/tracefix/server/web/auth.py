"""Signing in and out, API tokens, the admins' people page, and the protections every page of
the dashboard shares.

Sessions are Flask-Login's, in Flask's signed cookie; the user id in it carries a marker of the
password hash, so changing a password ends every session. Every form post is checked for
Flask-WTF's CSRF token, except the ingest endpoints (SDKs post there, with the DSN's key) and
the JSON API (``dashboard.api``), which authenticates by bearer token alone and never by
cookie, so a forged cross-site request carries no credentials to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie_session
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager  # type: ignore[import-untyped]
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session
from werkzeug import Response

from tracefix.server import people
from tracefix.server.models import User
from tracefix.server.web.state import server_state

auth = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Sign in to see this page."

#: What the dashboard's pages may load: their own CSS, nothing inline, nothing remote. Event
#: data is escaped by Jinja; this is the second wall if an escape were ever missed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SignedInUser:
    """What Flask-Login keeps as ``current_user``: the ``User`` row, loaded per request."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{people.session_marker(self.user)}"


def signed_in_user() -> User:
    """The signed-in user of a ``login_required`` view."""
    signed_in: SignedInUser = current_user._get_current_object()
    return signed_in.user


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(session_id: str) -> SignedInUser | None:
    user_id, _, marker = session_id.partition(":")
    if not user_id.isdigit():
        return None
    with server_state().db.session() as session:
        user = session.get(User, int(user_id))
    if user is None or people.session_marker(user) != marker:
        return None
    return SignedInUser(user)


def init_people(app: Flask) -> None:
    """Sessions, CSRF protection (not on ingest), the sign-in pages and security headers."""
    from tracefix.server.web.ingest import ingest

    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a tab left open for hours still works
    if app.extensions["tracefix"].config.public_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    login_manager.init_app(app)
    csrf = CSRFProtect(app)
    csrf.exempt(ingest)
    app.register_blueprint(auth)
    app.register_error_handler(CSRFError, _csrf_refused)


def _csrf_refused(error: Any) -> ResponseReturnValue:
    return (
        render_template(
            "error.html",
            title="The form was refused",
            message="The form expired or did not come from this site: "
            "reload the page and try again.",
        ),
        400,
    )


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


auth.after_request(add_security_headers)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another host."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return url_for("dashboard.projects")


@auth.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    if request.method == "GET":
        return render_template("login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    target = request.form.get("next") or request.args.get("next")
    state = server_state()
    address = request.remote_addr or ""
    wait = state.sign_in_throttle.retry_after(email, address)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        flash(f"Too many failed sign-ins: try again in {minutes} minute(s).", "error")
        page = render_template("login.html", email=email, next=target or "")
        return page, 429, {"Retry-After": str(math.ceil(wait))}
    db = state.db
    with db.session() as session:
        user = people.authenticate(session, email, password)
    if user is None:
        state.sign_in_throttle.failed(email, address)
        flash("Wrong email or password.", "error")
        return render_template("login.html", email=email, next=target or ""), 401
    state.sign_in_throttle.succeeded(email)
    if people.password_needs_rehash(user):
        with db.write_session() as session:
            stored = session.get(User, user.id)
            if stored is not None:
                people.set_password(session, stored, password)
                user = stored
    cookie_session.clear()  # nothing from before signing in carries over
    login_user(SignedInUser(user))
    return redirect(safe_next(target))


@auth.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    cookie_session.clear()
    return redirect(url_for("auth.login"))


@auth.get("/settings/tokens")
@login_required  # type: ignore[untyped-decorator]
def tokens() -> ResponseReturnValue:
    return _tokens_page(new_secret=None)


@auth.post("/settings/tokens")
@login_required  # type: ignore[untyped-decorator]
def create_token() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        with server_state().db.write_session() as session:
            created = people.create_token(session, user, request.form.get("name", ""))
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _tokens_page(new_secret=None), 400
    return _tokens_page(new_secret=created.secret, new_name=created.token.name), 201


@auth.post("/settings/tokens/<int:token_id>/revoke")
@login_required  # type: ignore[untyped-decorator]
def revoke_token(token_id: int) -> ResponseReturnValue:
    with server_state().db.write_session() as session:
        revoked = people.revoke_token(session, signed_in_user(), token_id)
    if not revoked:
        abort(404)
    flash("The token was revoked.", "info")
    return redirect(url_for("auth.tokens"))


@auth.get("/settings/people")
@login_required  # type: ignore[untyped-decorator]
def people_page() -> ResponseReturnValue:
    """Admins only: every user and their projects; new users; who is a member of what."""
    _admins_only()
    return _people_page()


@auth.post("/settings/people")
@login_required  # type: ignore[untyped-decorator]
def create_user() -> ResponseReturnValue:
    _admins_only()
    form = request.form
    try:
        with server_state().db.write_session() as session:
            created = people.create_user(
                session,
                form.get("email", ""),
                form.get("password", ""),
                admin=form.get("admin") == "on",
            )
            email = created.email
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _people_page(), 400
    flash(f"{email} can now sign in.", "info")
    return redirect(url_for("auth.people_page"))


@auth.post("/settings/people/members")
@login_required  # type: ignore[untyped-decorator]
def add_member() -> ResponseReturnValue:
    return _change_membership(people.add_member, "sees the issues of")


@auth.post("/settings/people/members/remove")
@login_required  # type: ignore[untyped-decorator]
def remove_member() -> ResponseReturnValue:
    return _change_membership(people.remove_member, "no longer sees the issues of")


def _change_membership(
    change: Callable[[Session, str, str], object], done: str
) -> ResponseReturnValue:
    """Admins only: ``change`` the membership the form names; the page again, with the reason,
    when it cannot be done."""
    _admins_only()
    email, project = request.form.get("email", ""), request.form.get("project", "")
    try:
        with server_state().db.write_session() as session:
            change(session, email, project)
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _people_page(), 400
    flash(f"{people.normalise_email(email)} {done} {project}.", "info")
    return redirect(url_for("auth.people_page"))


def _admins_only() -> None:
    if not signed_in_user().is_admin:
        abort(403)


def _people_page() -> str:
    with server_state().db.session() as session:
        listed = people.users_and_their_projects(session)
        projects = [project.name for project in people.visible_projects(session, signed_in_user())]
    return render_template("people.html", people=listed, projects=projects)


def _tokens_page(new_secret: str | None, new_name: str | None = None) -> str:
    with server_state().db.session() as session:
        listed = people.tokens_of(session, signed_in_user())
    return render_template("tokens.html", tokens=listed, new_secret=new_secret, new_name=new_name)
