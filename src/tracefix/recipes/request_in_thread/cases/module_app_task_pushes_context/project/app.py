from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///search.db"
db = SQLAlchemy(app)

from views import *  # noqa: E402,F401,F403  (the views register themselves on app)
