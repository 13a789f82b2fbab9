"""User views."""
from flask import Blueprint, jsonify

from .models import User

blueprint = Blueprint("user", __name__, url_prefix="/users")


@blueprint.route("/")
def members():
    """List members."""
    return jsonify([user.username for user in User.query.order_by(User.username)])
