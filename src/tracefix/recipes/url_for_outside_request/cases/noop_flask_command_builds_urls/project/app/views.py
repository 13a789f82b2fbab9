from flask import Blueprint, jsonify

from app import db
from app.models import User

bp = Blueprint("users", __name__)


@bp.get("/users")
def list_users():
    users = db.session.scalars(db.select(User).order_by(User.name)).all()
    return jsonify([user.name for user in users])
