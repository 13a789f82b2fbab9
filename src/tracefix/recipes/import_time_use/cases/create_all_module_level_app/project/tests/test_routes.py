from app import app, db
from app.models import Post


def test_index_lists_posts():
    with app.app_context():
        db.session.add(Post(body="hello"))
        db.session.commit()
        response = app.test_client().get("/index")
        assert "hello" in response.get_json()
        db.session.delete(db.session.scalars(db.select(Post)).first())
        db.session.commit()
