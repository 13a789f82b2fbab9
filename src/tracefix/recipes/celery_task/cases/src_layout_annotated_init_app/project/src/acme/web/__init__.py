from flask import Flask

from acme.config import Config
from acme.web.extensions import celery_init_app
from acme.web.extensions import db


def create_app(config_class: type[Config] = Config) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_class)
    db.init_app(app)
    celery_init_app(app)

    from acme.reports.views import bp

    app.register_blueprint(bp)
    return app
