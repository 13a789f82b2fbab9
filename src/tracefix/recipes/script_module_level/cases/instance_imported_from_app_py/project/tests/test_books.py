from app import db
from models import Book


def test_books_sorted_by_title(app, client):
    db.session.add_all([Book(title="Emma", author="Austen"), Book(title="Dune", author="Herbert")])
    db.session.commit()
    assert client.get("/books").get_json() == ["Dune", "Emma"]
