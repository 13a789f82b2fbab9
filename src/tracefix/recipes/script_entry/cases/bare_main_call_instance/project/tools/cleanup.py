"""Delete login sessions older than a week: python -m tools.cleanup"""
from datetime import timedelta

from app import LoginSession, db, utcnow


def main():
    cutoff = utcnow() - timedelta(days=7)
    result = db.session.execute(db.delete(LoginSession).where(LoginSession.created < cutoff))
    db.session.commit()
    print(f"deleted {result.rowcount} sessions")


main()
