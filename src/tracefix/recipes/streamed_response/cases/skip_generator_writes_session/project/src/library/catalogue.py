from flask import Blueprint
from flask import current_app
from flask import session

bp = Blueprint("catalogue", __name__)


def titles():
    """Each title on its own line; remembers how far the reader got."""
    for number, title in enumerate(current_app.config["BOOKS"], 1):
        yield f"{title}\n"
        session["last_seen"] = number


@bp.get("/books.txt")
def books():
    return titles(), {"Content-Type": "text/plain"}
