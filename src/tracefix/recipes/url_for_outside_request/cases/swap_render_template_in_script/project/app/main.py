from flask import Blueprint

bp = Blueprint("main", __name__)


@bp.get("/users/<name>")
def profile(name):
    return {"name": name}
