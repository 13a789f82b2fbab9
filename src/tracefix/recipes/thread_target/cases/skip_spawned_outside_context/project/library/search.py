from library import db
from library.models import Book


def rebuild_index():
    for book in db.session.scalars(db.select(Book)):
        book.indexed = True
    db.session.commit()
