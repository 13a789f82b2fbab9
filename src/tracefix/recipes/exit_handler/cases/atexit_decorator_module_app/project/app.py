import atexit

from flask import Flask
from flask import request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///stats.db"
db = SQLAlchemy(app)

#: Page views are buffered and written in batches, not one INSERT per request.
pending_views = []


class PageView(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    path = db.Column(db.String(200), nullable=False)


with app.app_context():
    db.create_all()


@app.after_request
def count_view(response):
    pending_views.append(request.path)
    return response


@app.get("/")
def home():
    return "home"


@atexit.register
def flush_page_views():
    """Write the page views still buffered when the process exits."""
    db.session.add_all([PageView(path=path) for path in pending_views])
    db.session.commit()
    pending_views.clear()
