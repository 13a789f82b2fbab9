import click
from flask import url_for
from flask.cli import with_appcontext

from newsletter import db
from newsletter.models import Subscriber


@click.group()
def cli():
    pass


@cli.command("send-digest")
@with_appcontext
def send_digest():
    for subscriber in db.session.scalars(db.select(Subscriber)):
        link = url_for("unsubscribe", subscriber_id=subscriber.id, _external=True)
        click.echo(f"to {subscriber.email}: unsubscribe at {link}")


if __name__ == "__main__":
    cli()
