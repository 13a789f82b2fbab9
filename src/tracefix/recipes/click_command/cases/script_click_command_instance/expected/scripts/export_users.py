"""Write every user's email to a CSV file."""
import csv

import click

from app import User, app


@click.command()
@click.option("--out", default="users.csv", type=click.Path(dir_okay=False, writable=True))
def export(out):
    with app.app_context():
        users = User.query.order_by(User.email).all()
        with open(out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email"])
            writer.writerows([user.email] for user in users)
        click.echo(f"{len(users)} users written to {out}")


if __name__ == "__main__":
    export()
