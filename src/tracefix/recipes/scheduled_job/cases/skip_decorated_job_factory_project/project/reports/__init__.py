from flask import Flask

from reports.extensions import db


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///reports.db")
    if config:
        app.config.from_mapping(config)
    db.init_app(app)

    from reports import jobs  # noqa: F401  (registers the scheduled jobs)

    with app.app_context():
        db.create_all()
    return app
