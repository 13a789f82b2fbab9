import csv

import click
from flask.cli import with_appcontext

from shop.extensions import db
from shop.models import Product


@click.command("import-products")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_products(path):
    """Add the products of a CSV file (sku, name, price)."""
    with open(path, newline="") as products:
        for row in csv.DictReader(products):
            db.session.merge(Product(sku=row["sku"], name=row["name"], price=row["price"]))
    db.session.commit()
    click.echo("products imported")
