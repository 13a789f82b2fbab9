import os

from flask import Flask

from proj import models
from proj.extensions import db

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///billing.db")
db.init_app(app)

with app.app_context():
    db.create_all()
