from notes import Note
from notes import db


def test_note_is_saved(app):
    with app.app_context():
        db.session.add(Note(text="buy milk"))
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count(Note.id))) == 1
