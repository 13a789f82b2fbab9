from flask import Flask

from app import db
from app.models import Book


def test_book_gets_a_default_date():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    with app.app_context():
        db.create_all()
        book = Book(title="Emma")
        db.session.add(book)
        db.session.commit()
        assert book.published.year == 2000
