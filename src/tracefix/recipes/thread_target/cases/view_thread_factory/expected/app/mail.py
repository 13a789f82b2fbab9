from flask import current_app

from app import db
from app.models import Message
from app.models import User


def send_welcome(app, user_id):
    """Queue the welcome email. Runs in a background thread so that signing up stays fast."""
    with app.app_context():
        user = db.session.get(User, user_id)
        subject = f"Welcome to {current_app.config.get('SITE_NAME', 'our site')}"
        db.session.add(Message(to=user.email, subject=subject))
        db.session.commit()
