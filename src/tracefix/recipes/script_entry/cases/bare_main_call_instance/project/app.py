import os
from datetime import datetime, timezone

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("SESSIONS_DB", "sqlite:///sessions.db")
db = SQLAlchemy(app)


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class LoginSession(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user = db.Column(db.String(80), nullable=False)
    created = db.Column(db.DateTime, nullable=False, default=utcnow)


with app.app_context():
    db.create_all()


@app.route("/sessions/count")
def session_count():
    return jsonify(db.session.scalar(db.select(db.func.count(LoginSession.id))))
