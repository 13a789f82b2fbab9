from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///blog.db")
    if test_config is not None:
        app.config.from_mapping(test_config)
    db.init_app(app)

    from blog import views

    app.register_blueprint(views.bp)
    return app
