"""Make the missing thumbnails, four photos at a time."""

from concurrent.futures import ThreadPoolExecutor

from app import Photo
from app import app
from app import db
from media import make_thumbnail

with app.app_context():
    db.create_all()
    if not db.session.scalar(db.select(db.func.count(Photo.id))):
        db.session.add_all(Photo(data=bytes(range(64))) for _ in range(3))
        db.session.commit()
    missing = db.session.scalars(db.select(Photo.id).where(Photo.thumbnail.is_(None))).all()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for photo_id, size in zip(missing, pool.map(make_thumbnail, missing)):
            print(f"photo {photo_id}: thumbnail of {size} bytes")
