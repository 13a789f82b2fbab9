from app import Photo
from app import app
from app import db


def make_thumbnail(photo_id):
    """Shrink one photo; runs in a worker thread of the thumbnail script."""
    photo = db.session.get(Photo, photo_id)
    photo.thumbnail = photo.data[: app.config["THUMBNAIL_BYTES"]]
    db.session.commit()
    return len(photo.thumbnail)
