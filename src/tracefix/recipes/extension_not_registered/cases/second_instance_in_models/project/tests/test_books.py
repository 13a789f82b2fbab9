from app import create_app


def test_list_books_is_empty_at_first():
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.test_client().get("/books").get_json() == []
