from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///newsletter.db")
    if config:
        app.config.from_mapping(config)
    db.init_app(app)

    from newsletter import views

    app.register_blueprint(views.bp)
    with app.app_context():
        db.create_all()
    return app
