import threading

import click
from flask.cli import with_appcontext

from newsletter.digest import send_digest


@click.command("send-digest")
@with_appcontext
def send_digest_command():
    """Send the weekly digest in the background."""
    worker = threading.Thread(target=send_digest)
    worker.start()
    worker.join()
    click.echo("digest sent")
