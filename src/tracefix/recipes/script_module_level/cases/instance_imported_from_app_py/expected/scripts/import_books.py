"""Load the starter catalogue into the database."""

import csv
import io

from app import app, db
from models import Book

CATALOGUE = """title,author
Dune,Frank Herbert
Emma,Jane Austen
"""

with app.app_context():
    db.create_all()
    for row in csv.DictReader(io.StringIO(CATALOGUE)):
        db.session.add(Book(title=row["title"], author=row["author"]))
    db.session.commit()
    print("catalogue loaded")
