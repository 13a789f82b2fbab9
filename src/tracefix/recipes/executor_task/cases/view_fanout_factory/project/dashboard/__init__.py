from flask import Flask

from dashboard.extensions import db


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///dashboard.db")
    if test_config is not None:
        app.config.from_mapping(test_config)

    db.init_app(app)

    from dashboard import views

    app.register_blueprint(views.bp)
    return app
