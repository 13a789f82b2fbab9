from accounts import db
from accounts.models import LoginEvent


def record_login(app, user_id, remote_addr):
    """Store who signed in, and from where. Runs in the background: signing in stays fast."""
    with app.app_context():
        db.session.add(LoginEvent(user_id=user_id, ip=remote_addr))
        db.session.commit()
