import threading

from flask import Blueprint
from flask import abort
from flask import redirect
from flask import request
from flask_login import login_user

from accounts import db
from accounts.audit import record_login
from accounts.models import User

bp = Blueprint("auth", __name__)


@bp.post("/login")
def login():
    user = db.session.scalar(db.select(User).where(User.email == request.form["email"]))
    if user is None:
        abort(401)
    login_user(user)
    threading.Thread(target=record_login, daemon=True).start()
    return redirect("/")
