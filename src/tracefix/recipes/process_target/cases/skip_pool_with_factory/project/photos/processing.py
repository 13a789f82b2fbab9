from photos import db
from photos.models import Photo


def measure(photo_id):
    photo = db.session.get(Photo, photo_id)
    return photo.width if photo else 0
