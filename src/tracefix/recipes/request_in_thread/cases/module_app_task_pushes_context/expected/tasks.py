from app import app
from app import db
from models import Search


def log_search(q, user_agent):
    """Keep the search for the statistics page, without slowing the search down."""
    with app.app_context():
        term = q.strip().lower()
        db.session.add(Search(term=term, agent=user_agent))
        db.session.commit()
