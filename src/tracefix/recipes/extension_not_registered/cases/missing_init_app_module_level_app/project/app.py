import os

from flask import Flask, request

from models import Visit, db

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///visits.db")
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "dev")


@app.before_request
def count_visit():
    db.session.add(Visit(path=request.path))
    db.session.commit()


@app.get("/")
def index():
    return {"visits": db.session.query(Visit).count()}


if __name__ == "__main__":
    app.run(debug=True)
