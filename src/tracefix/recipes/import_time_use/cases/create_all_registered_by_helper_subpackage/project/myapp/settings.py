import os

ENV = os.environ.get("FLASK_ENV", "production")
SECRET_KEY = os.environ.get("SECRET_KEY", "not-so-secret")
SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///dev.db")
SQLALCHEMY_TRACK_MODIFICATIONS = False
