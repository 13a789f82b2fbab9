from flask import current_app
from flask import g
from flask import request


def index_post():
    """Add the posted text to the search index, credited to its author."""
    words = request.form["body"].lower().split()
    current_app.config["SEARCH_INDEX"][g.author] = sorted(set(words))
