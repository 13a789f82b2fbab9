from flask import Flask

from shop.extensions import db
from shop.extensions import scheduler


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI="sqlite:///shop.db",
        SCHEDULER_API_ENABLED=False,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)

    db.init_app(app)
    scheduler.init_app(app)

    from shop import jobs  # noqa: F401  (registers the scheduled jobs)
    from shop import views

    app.register_blueprint(views.bp)

    with app.app_context():
        db.create_all()

    return app
