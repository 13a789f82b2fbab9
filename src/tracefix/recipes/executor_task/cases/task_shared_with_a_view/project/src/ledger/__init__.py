from flask import Flask

from ledger.models import db


def create_app(config_object="ledger.config.ProductionConfig"):
    app = Flask(__name__)
    app.config.from_object(config_object)
    db.init_app(app)

    from ledger.views import bp

    app.register_blueprint(bp)
    return app
