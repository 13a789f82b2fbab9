from shop.models import User


def test_user_is_saved(db):
    User(name="grace").save()
    assert User.query.filter_by(name="grace").count() == 1


def test_user_fixture(user):
    assert user.id is not None


def test_view(app, user):
    response = app.test_client().get("/users/ada")
    assert response.json == {"name": "ada"}
