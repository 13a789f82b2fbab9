import threading

import click
from flask.cli import FlaskGroup

from pricing import create_app
from pricing.cache import load_prices

cli = FlaskGroup(create_app=create_app)


@cli.command("warm-cache")
def warm_cache():
    """Load the prices in the background while the cache fills."""
    loader = threading.Thread(target=load_prices, name="price-loader")
    loader.start()
    loader.join()
    click.echo("cache warmed")


if __name__ == "__main__":
    cli()
