"""Purge expired login sessions shortly after start-up (python housekeeping.py)."""

import time
from threading import Timer

from app import LoginSession
from app import app
from app import db


def purge_expired_sessions():
    with app.app_context():
        result = db.session.execute(
            db.delete(LoginSession).where(LoginSession.expires_at < time.time())
        )
        db.session.commit()
        app.logger.warning("purged %d expired sessions", result.rowcount)


if __name__ == "__main__":
    Timer(0.1, purge_expired_sessions).start()
