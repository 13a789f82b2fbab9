from flask import jsonify

from .. import db
from ..models import Role
from . import main


@main.route("/roles")
def roles():
    names = db.session.scalars(db.select(Role.name).order_by(Role.name)).all()
    return jsonify(names)
