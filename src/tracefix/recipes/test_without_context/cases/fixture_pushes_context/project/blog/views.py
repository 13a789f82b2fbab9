from flask import Blueprint
from flask import jsonify

from blog import db
from blog.models import Post

bp = Blueprint("posts", __name__)


@bp.get("/posts")
def list_posts():
    return jsonify([p.slug for p in db.session.scalars(db.select(Post).order_by(Post.id))])
