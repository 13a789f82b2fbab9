import threading

from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///hits.db"
db = SQLAlchemy(app)


class PageView(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    path = db.Column(db.String(200), nullable=False)


with app.app_context():
    db.create_all()


def record_hit(path):
    """Count the page view off the request thread."""
    with app.app_context():
        db.session.add(PageView(path=path))
        db.session.commit()


@app.route("/")
def index():
    threading.Thread(target=record_hit, args=("/",), daemon=True).start()
    return jsonify(message="hello")


@app.route("/stats")
def stats():
    return jsonify(views=db.session.query(PageView).count())
