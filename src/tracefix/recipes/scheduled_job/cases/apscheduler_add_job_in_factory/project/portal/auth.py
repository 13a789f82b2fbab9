from datetime import datetime
from datetime import timezone

from flask import Blueprint
from flask import jsonify
from flask import request

from portal import db
from portal.models import LoginSession

bp = Blueprint("auth", __name__)


@bp.post("/login")
def login():
    record = LoginSession(user_id=int(request.form["user_id"]), created_at=datetime.now(timezone.utc))
    db.session.add(record)
    db.session.commit()
    return jsonify(session=record.id)
