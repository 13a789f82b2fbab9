from flask import jsonify

from app import app, db
from app.models import Post


@app.route("/")
@app.route("/index")
def index():
    posts = db.session.scalars(db.select(Post)).all()
    return jsonify([post.body for post in posts])
