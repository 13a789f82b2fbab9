from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///photos.db"
app.config["THUMBNAIL_BYTES"] = 16
db = SQLAlchemy(app)


class Photo(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    data = db.Column(db.LargeBinary, nullable=False)
    thumbnail = db.Column(db.LargeBinary)


@app.get("/photos/<int:photo_id>/thumbnail")
def thumbnail(photo_id):
    return db.get_or_404(Photo, photo_id).thumbnail or b""
