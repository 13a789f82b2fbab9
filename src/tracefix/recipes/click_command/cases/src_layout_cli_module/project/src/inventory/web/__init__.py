from flask import Flask

from inventory.config import ProductionConfig
from inventory.extensions import db


def create_app(config_class=ProductionConfig):
    app = Flask(__name__)
    app.config.from_object(config_class)
    db.init_app(app)

    from inventory import models  # noqa: F401

    with app.app_context():
        db.create_all()

    @app.get("/items")
    def items():
        return {item.name: item.quantity for item in db.session.scalars(db.select(models.Item))}

    return app
