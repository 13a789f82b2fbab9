import click

from library import db
from library.models import Loan


@click.group()
def cli():
    pass


@cli.command()
def overdue():
    """List the loans not returned yet."""
    for loan in db.session.scalars(db.select(Loan).filter_by(returned=False)):
        click.echo(loan.book)


if __name__ == "__main__":
    cli()
