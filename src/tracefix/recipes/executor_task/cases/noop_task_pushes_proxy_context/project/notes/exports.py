import csv
import io

from flask import current_app

from notes.models import Note
from notes.models import db


def export_notes(owner):
    """The owner's notes as CSV. Runs in the export pool, so it pushes its own context."""
    with current_app.app_context():
        rows = db.session.scalars(db.select(Note).where(Note.owner == owner)).all()
        out = io.StringIO()
        csv.writer(out).writerows((note.id, note.text) for note in rows)
        return out.getvalue()
