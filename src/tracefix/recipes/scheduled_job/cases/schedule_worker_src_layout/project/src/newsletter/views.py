from flask import Blueprint
from flask import request

from newsletter import db
from newsletter.models import Subscriber

bp = Blueprint("newsletter", __name__)


@bp.post("/subscribe")
def subscribe():
    db.session.add(Subscriber(email=request.form["email"]))
    db.session.commit()
    return "", 204
