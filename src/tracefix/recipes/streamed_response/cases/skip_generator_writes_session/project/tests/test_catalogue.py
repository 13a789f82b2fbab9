from library import create_app


def test_books_lists_every_title():
    client = create_app(TESTING=True).test_client()
    assert client.get("/books.txt").get_data(as_text=True) == "Dune\nEmma\nUlysses\n"
