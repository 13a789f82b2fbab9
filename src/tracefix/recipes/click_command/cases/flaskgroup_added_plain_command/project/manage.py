from flask.cli import FlaskGroup

from shop import create_app
from shop.commands import import_products

cli = FlaskGroup(create_app=create_app)
cli.add_command(import_products)


if __name__ == "__main__":
    cli()
