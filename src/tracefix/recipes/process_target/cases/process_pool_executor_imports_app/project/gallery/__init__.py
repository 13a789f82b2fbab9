from flask import Flask

app = Flask(__name__)
app.config.update(THUMBNAIL_SIZE=(128, 128), PHOTO_DIR="photos")

from gallery import views  # noqa: E402,F401
