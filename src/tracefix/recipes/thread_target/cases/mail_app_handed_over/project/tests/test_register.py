from blog import create_app


def test_register_sends_a_welcome():
    app = create_app()
    response = app.test_client().post("/register", data={"email": "ann@example.com"})
    assert response.status_code == 201
