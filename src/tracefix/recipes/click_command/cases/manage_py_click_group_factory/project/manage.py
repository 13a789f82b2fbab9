import os

import click

from app import create_app
from app import db
from app.models import Role
from app.models import User


@click.group()
def cli():
    """Management commands for the site."""


@cli.command()
def seed():
    """Create the default roles."""
    for name in ("admin", "editor"):
        if db.session.scalar(db.select(Role).filter_by(name=name)) is None:
            db.session.add(Role(name=name))
    db.session.commit()
    click.echo("roles created")


@cli.command("create-user")
@click.argument("email")
@click.option("--role", default="editor")
def create_user(email, role):
    """Create a user with a role."""
    with create_app(os.getenv("FLASK_CONFIG") or "default").app_context():
        role_id = db.session.scalar(db.select(Role.id).filter_by(name=role))
        db.session.add(User(email=email, role_id=role_id))
        db.session.commit()
    click.echo(f"created {email}")


if __name__ == "__main__":
    cli()
