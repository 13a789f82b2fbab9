import click

from app import db
from app.models import User


@click.command()
@click.option("--name", default="Admin")
def seed(name):
    db.session.add(User(name=name))
    db.session.commit()
    click.echo(f"Created user: {name}")


if __name__ == "__main__":
    seed()
