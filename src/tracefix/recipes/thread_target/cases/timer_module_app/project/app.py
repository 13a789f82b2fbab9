from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///sessions.db"
db = SQLAlchemy(app)


class LoginSession(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user = db.Column(db.String(80), nullable=False)
    expires_at = db.Column(db.Float, nullable=False)


with app.app_context():
    db.create_all()


@app.get("/sessions")
def sessions():
    return jsonify([s.user for s in db.session.scalars(db.select(LoginSession))])
