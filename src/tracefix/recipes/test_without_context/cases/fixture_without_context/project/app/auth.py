from flask import Blueprint
from flask import request

from app import db
from app.models import User

bp = Blueprint("auth", __name__)


@bp.post("/register")
def register():
    user = User(username=request.form["username"])
    user.set_password(request.form["password"])
    db.session.add(user)
    db.session.commit()
    return "", 201


def find_user(username):
    return db.session.scalar(db.select(User).filter_by(username=username))
