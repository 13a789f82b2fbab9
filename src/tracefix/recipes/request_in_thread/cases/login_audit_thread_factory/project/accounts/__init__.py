from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
login_manager = LoginManager()


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(SECRET_KEY="dev", SQLALCHEMY_DATABASE_URI="sqlite:///accounts.db")
    if test_config is not None:
        app.config.from_mapping(test_config)
    db.init_app(app)
    login_manager.init_app(app)

    from accounts import auth

    app.register_blueprint(auth.bp)
    return app
