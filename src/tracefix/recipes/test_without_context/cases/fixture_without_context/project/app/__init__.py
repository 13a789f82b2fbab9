from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///accounts.db", SECRET_KEY="dev")
    if test_config is not None:
        app.config.from_mapping(test_config)
    db.init_app(app)

    from app.auth import bp

    app.register_blueprint(bp)
    with app.app_context():
        db.create_all()
    return app
