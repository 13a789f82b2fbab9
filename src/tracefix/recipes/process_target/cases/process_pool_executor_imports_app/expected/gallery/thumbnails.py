from flask import current_app

from gallery import app


def thumbnail_name(photo):
    """The thumbnail's file name for ``photo`` (resizing itself is done by the image service)."""
    with app.app_context():
        width, height = current_app.config["THUMBNAIL_SIZE"]
        return f"{current_app.config['PHOTO_DIR']}/{photo}.{width}x{height}.jpg"
