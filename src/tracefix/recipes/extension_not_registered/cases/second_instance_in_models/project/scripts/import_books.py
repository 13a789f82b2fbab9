"""Load the catalogue once: python -m scripts.import_books"""

from app import create_app, db
from app.models import Book

TITLES = ["Dune", "Emma", "Ulysses"]


def main():
    app = create_app()
    with app.app_context():
        if Book.query.first() is None:
            db.session.add_all([Book(title=title) for title in TITLES])
            db.session.commit()
        print(f"{Book.query.count()} books")


if __name__ == "__main__":
    main()
