import threading

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from app import db
from app.mail import send_welcome
from app.models import User

bp = Blueprint("users", __name__)


@bp.post("/signup")
def signup():
    user = User(email=request.form["email"])
    db.session.add(user)
    db.session.commit()
    threading.Thread(
        target=send_welcome,
        args=(current_app._get_current_object(), user.id),
    ).start()
    return jsonify(id=user.id), 201
