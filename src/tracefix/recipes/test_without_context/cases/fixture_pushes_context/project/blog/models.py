import re

from blog import db


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    slug = db.Column(db.String(200), unique=True, nullable=False)

    @classmethod
    def publish(cls, title):
        post = cls(title=title, slug=re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"))
        db.session.add(post)
        db.session.commit()
        return post
