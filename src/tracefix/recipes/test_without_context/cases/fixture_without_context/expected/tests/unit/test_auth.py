from app.auth import find_user


def test_register_stores_a_hashed_password(client, app):
    """The password is stored hashed, never in clear."""
    response = client.post("/register", data={"username": "ada", "password": "s3cret"})
    assert response.status_code == 201
    with app.app_context():
        user = find_user("ada")
        assert user.password_hash != "s3cret"
        assert user.check_password("s3cret")
