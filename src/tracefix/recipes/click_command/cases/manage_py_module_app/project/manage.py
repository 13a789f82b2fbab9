from datetime import datetime
from datetime import timedelta
from datetime import timezone

import click

from microblog import create_app
from microblog import db
from microblog.models import Post

app = create_app()


@click.group()
def cli():
    pass


@cli.command()
@click.option("--days", default=365, help="Delete posts older than this.")
def purge(days):
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    deleted = Post.query.filter(Post.timestamp < cutoff).delete()
    db.session.commit()
    click.echo(f"deleted {deleted} posts")


if __name__ == "__main__":
    cli()
