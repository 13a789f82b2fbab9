from flask import request

from app import create_app, db
from app.models import User


def export():
    separator = request.args.get("separator", ",")
    return separator.join(db.session.scalars(db.select(User.name)))


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        print(export())
