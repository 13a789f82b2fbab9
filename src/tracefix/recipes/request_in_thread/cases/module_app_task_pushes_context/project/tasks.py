from flask import request

from app import app
from app import db
from models import Search


def log_search():
    """Keep the search for the statistics page, without slowing the search down."""
    with app.app_context():
        term = request.args.get("q", "").strip().lower()
        db.session.add(Search(term=term, agent=request.headers.get("User-Agent")))
        db.session.commit()
