from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(config_name="production"):
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///shop.db", CONFIG_NAME=config_name)
    db.init_app(app)
    with app.app_context():
        db.create_all()
    return app
