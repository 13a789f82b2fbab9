from app import app


def test_guide_page():
    response = app.test_client().get("/guide/install")
    assert b"install" in response.data
