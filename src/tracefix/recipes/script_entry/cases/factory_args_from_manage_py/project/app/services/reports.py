from flask import current_app

from .. import db
from ..models import User


def signup_report(limit=10):
    """The latest sign-ups, newest first, under the configured title."""
    title = current_app.config["REPORT_TITLE"]
    query = db.select(User.username).order_by(User.id.desc()).limit(limit)
    return "\n".join([title, *db.session.scalars(query)])
