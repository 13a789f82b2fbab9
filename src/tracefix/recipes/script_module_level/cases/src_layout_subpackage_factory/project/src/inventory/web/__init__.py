import os

from flask import Flask

from inventory.extensions import db


def create_app(config=None):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "INVENTORY_DB", "sqlite:///inventory.db"
    )
    if config:
        app.config.update(config)
    db.init_app(app)

    from inventory.web.routes import bp

    app.register_blueprint(bp)
    return app
