from flask import Blueprint
from flask import request

from blog.email import send_email

bp = Blueprint("auth", __name__)


@bp.post("/register")
def register():
    send_email(request.form["email"], "Welcome!").join()
    return "registered", 201
