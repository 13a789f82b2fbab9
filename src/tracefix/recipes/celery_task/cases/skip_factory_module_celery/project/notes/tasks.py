from notes.extensions import celery
from notes.extensions import db
from notes.models import Note


@celery.task
def empty_trash():
    deleted = db.session.execute(db.delete(Note).where(Note.trashed.is_(True)))
    db.session.commit()
    return deleted.rowcount
