from datetime import datetime
from datetime import timedelta
from datetime import timezone

from flask import current_app

from portal import db
from portal.models import LoginSession


def purge_expired_sessions():
    hours = current_app.config["SESSION_LIFETIME_HOURS"]
    cutoff = datetime.now(timezone.utc) - timedelta(hours=hours)
    db.session.execute(db.delete(LoginSession).where(LoginSession.created_at < cutoff))
    db.session.commit()
