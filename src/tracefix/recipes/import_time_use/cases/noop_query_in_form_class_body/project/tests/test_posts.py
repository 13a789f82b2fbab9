from blog import create_app


def test_new_post_page():
    app = create_app("blog.settings.TestConfig")
    assert app.test_client().get("/posts/new").status_code == 200
