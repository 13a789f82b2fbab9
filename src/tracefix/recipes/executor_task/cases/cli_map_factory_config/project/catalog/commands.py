from concurrent.futures import ThreadPoolExecutor

import click
from flask.cli import with_appcontext

from catalog.models import Product
from catalog.models import db
from catalog.search import index_product


@click.command("reindex")
@with_appcontext
def reindex_command():
    """Rebuild the search index of every product."""
    db.create_all()
    if db.session.scalar(db.select(db.func.count(Product.id))) == 0:
        db.session.add_all([Product(name="Blue mug"), Product(name="Red kettle")])
        db.session.commit()
    ids = db.session.scalars(db.select(Product.id)).all()
    with ThreadPoolExecutor(max_workers=8) as pool:
        indexed = sum(pool.map(index_product, ids))
    click.echo(f"indexed {indexed} products")
