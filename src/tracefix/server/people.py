"""People: users, their passwords, project memberships and API tokens.

Passwords are hashed with Argon2id (``argon2-cffi``), and rehashed at the next login when the
hasher's parameters change. An API token is shown once, when it is created: only its SHA-256
is stored, so a copy of the database does not hand out access. A project's issues are visible
to its members; an admin sees every project. The first user created is an admin, so a fresh
server always has someone who can see everything.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracefix.server.models import ApiToken
from tracefix.server.models import Membership
from tracefix.server.models import Project
from tracefix.server.models import User
from tracefix.server.models import utcnow

MIN_PASSWORD_LENGTH = 8
#: Tokens start with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "tfx_"
#: A token's ``last_used_at`` is written at most this often: reads stay reads.
TOKEN_USE_RESOLUTION_SECONDS = 60
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

password_hasher = PasswordHasher()


class PeopleError(ValueError):
    """A user, membership or token cannot be created as asked."""


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` exists only here, never in the database."""

    token: ApiToken
    secret: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(session: Session, email: str, password: str, *, admin: bool = False) -> User:
    """A new user; the first one of the server is an admin whatever ``admin`` says."""
    email = normalise_email(email)
    if len(email) > 320 or not _EMAIL.match(email):
        raise PeopleError(f"invalid email address {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PeopleError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if user_by_email(session, email) is not None:
        raise PeopleError(f"a user {email} exists already")
    first = session.scalar(select(func.count()).select_from(User)) == 0
    user = User(email=email, password_hash=password_hasher.hash(password), is_admin=admin or first)
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this email and password, or None. Writes nothing, so it can run in a
    read transaction (a verification takes ~0.1 s: no write lock is held meanwhile).

    An unknown email costs a hash verification too, so the answer's time does not tell
    which emails have accounts.
    """
    user = user_by_email(session, email)
    if user is None:
        _verify(_unknown_user_hash(), password)
        return None
    return user if _verify(user.password_hash, password) else None


def password_needs_rehash(user: User) -> bool:
    """Whether the hash was made with parameters older than the hasher's: hash it again."""
    return password_hasher.check_needs_rehash(user.password_hash)


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PeopleError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = password_hasher.hash(password)


def session_marker(user: User) -> str:
    """Part of the login session's user id: a password change ends every session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _unknown_user_hash() -> str:
    return password_hasher.hash(secrets.token_hex(16))


def add_member(session: Session, email: str, project_name: str) -> Membership:
    """Give a user access to a project's issues; adding a member twice is not an error."""
    user = user_by_email(session, email)
    if user is None:
        raise PeopleError(f"no user {normalise_email(email)}")
    project = session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        raise PeopleError(f"no project {project_name!r}")
    membership = session.get(Membership, (user.id, project.id))
    if membership is None:
        membership = Membership(user_id=user.id, project_id=project.id)
        session.add(membership)
        session.flush()
    return membership


def remove_member(session: Session, email: str, project_name: str) -> None:
    """Take a project's issues away from a user."""
    user = user_by_email(session, email)
    project = session.scalar(select(Project).where(Project.name == project_name))
    membership = None
    if user is not None and project is not None:
        membership = session.get(Membership, (user.id, project.id))
    if membership is None:
        raise PeopleError(f"{normalise_email(email)} is not a member of {project_name!r}")
    session.delete(membership)
    session.flush()


def users_and_their_projects(session: Session) -> list[tuple[User, list[str]]]:
    """Every user, by email, with the names of the projects they are a member of."""
    names: dict[int, list[str]] = {}
    for user_id, name in session.execute(
        select(Membership.user_id, Project.name)
        .join(Project, Project.id == Membership.project_id)
        .order_by(Project.name)
    ):
        names.setdefault(user_id, []).append(name)
    users = session.scalars(select(User).order_by(User.email))
    return [(user, names.get(user.id, [])) for user in users]


def visible_projects(session: Session, user: User) -> list[Project]:
    """The projects whose issues ``user`` may see, by name."""
    query = select(Project).order_by(Project.name)
    if not user.is_admin:
        query = query.join(Membership, Membership.project_id == Project.id).where(
            Membership.user_id == user.id
        )
    return list(session.scalars(query))


def can_see_project(session: Session, user: User, project_id: int) -> bool:
    if user.is_admin:
        return True
    return session.get(Membership, (user.id, project_id)) is not None


def create_token(session: Session, user: User, name: str) -> NewToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise PeopleError("a token needs a name of 1 to 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=token_hash(secret))
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def user_for_token(session: Session, secret: str) -> tuple[User, ApiToken] | None:
    """The user a bearer token belongs to, and the token; None for an unknown token."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if token is None:
        return None
    user = session.get(User, token.user_id)
    return None if user is None else (user, token)


def token_use_is_stale(token: ApiToken) -> bool:
    """Whether ``last_used_at`` is old enough to be worth a write."""
    last = token.last_used_at
    return last is None or (utcnow() - last).total_seconds() >= TOKEN_USE_RESOLUTION_SECONDS


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at)
        )
    )


def revoke_token(session: Session, user: User, token_id: int) -> bool:
    """Delete one of ``user``'s tokens; False when it is not theirs (or gone)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return False
    session.delete(token)
    return True
