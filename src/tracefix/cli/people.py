"""``tracefix user`` and ``tracefix token``: the server's people, from the command line.

The first user has to be created here (the dashboard has no sign-up page), and is an admin.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from tracefix.cli.server import _config
from tracefix.cli.server import _migrated_database as _migrated

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.group()
def user() -> None:
    """The server's users: who can sign in, and which projects they see."""


@user.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Let the user see every project.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt."
)
def user_create(email: str, admin: bool, password_stdin: bool) -> None:
    """Create a user (the first one is an admin)."""
    from tracefix.server.people import PeopleError
    from tracefix.server.people import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    database = _migrated(_config())
    try:
        with database.write_session() as session:
            created = create_user(session, email, password, admin=admin)
            role = "an admin" if created.is_admin else "a user"
            click.echo(f"tracefix: {created.email} is {role}")
    except PeopleError as exc:
        raise click.ClickException(str(exc)) from None


@user.command("add-member")
@click.argument("email")
@click.argument("project")
def user_add_member(email: str, project: str) -> None:
    """Let a user see a project's issues and fixes."""
    from tracefix.server.people import add_member

    _change_membership(add_member, email, project)
    click.echo(f"tracefix: {email} is a member of {project}")


@user.command("remove-member")
@click.argument("email")
@click.argument("project")
def user_remove_member(email: str, project: str) -> None:
    """Take a project's issues and fixes away from a user."""
    from tracefix.server.people import remove_member

    _change_membership(remove_member, email, project)
    click.echo(f"tracefix: {email} is no longer a member of {project}")


def _change_membership(
    change: Callable[[Session, str, str], object], email: str, project: str
) -> None:
    from tracefix.server.people import PeopleError

    database = _migrated(_config())
    try:
        with database.write_session() as session:
            change(session, email, project)
    except PeopleError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def token() -> None:
    """API tokens, for scripts calling /api/0/."""


@token.command("create")
@click.argument("email")
@click.argument("name")
def token_create(email: str, name: str) -> None:
    """Create an API token for a user and print it: it is not stored, only its hash."""
    from tracefix.server.people import PeopleError
    from tracefix.server.people import create_token
    from tracefix.server.people import user_by_email

    database = _migrated(_config())
    try:
        with database.write_session() as session:
            owner = user_by_email(session, email)
            if owner is None:
                raise PeopleError(f"no user {email}")
            created = create_token(session, owner, name)
    except PeopleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(created.secret)


def register(main: click.Group) -> None:
    main.add_command(user)
    main.add_command(token)
