from datetime import datetime
from datetime import timezone

from microblog import db


def utcnow():
    return datetime.now(timezone.utc)


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.String(140), nullable=False)
    timestamp = db.Column(db.DateTime(timezone=True), index=True, default=utcnow)
