from flask import Blueprint, redirect

from blog import db
from blog.forms import PostForm
from blog.models import Post

bp = Blueprint("posts", __name__)


@bp.route("/posts/new", methods=["GET", "POST"])
def new_post():
    form = PostForm()
    if form.validate_on_submit():
        db.session.add(Post(title=form.title.data, category_id=form.category.data))
        db.session.commit()
        return redirect("/")
    return {"errors": form.errors}
