from flask import current_app
from flask import request

from fingerprints import fingerprint


def track_visit(page):
    """Count the visit; hashing is slow, so it runs beside the request."""
    visitor = fingerprint(request)
    visits = current_app.extensions["visits"]
    visits[page, visitor] = visits.get((page, visitor), 0) + 1
