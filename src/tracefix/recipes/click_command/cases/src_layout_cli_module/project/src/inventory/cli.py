import click

from inventory.extensions import db
from inventory.models import Item


@click.group()
def main():
    """Inventory maintenance."""


@main.command()
@click.option("--minimum", default=10, show_default=True)
def restock(minimum):
    """Top up every item below the minimum stock level."""
    low = db.session.scalars(db.select(Item).where(Item.quantity < minimum)).all()
    for item in low:
        item.quantity = minimum
    db.session.commit()
    click.echo(f"restocked {len(low)} items")
