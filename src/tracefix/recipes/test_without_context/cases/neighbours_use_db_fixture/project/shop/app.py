from flask import Flask

from shop.extensions import db


def create_app(config_object="shop.settings"):
    app = Flask(__name__.split(".")[0])
    app.config.from_object(config_object)
    db.init_app(app)
    from shop import views

    app.register_blueprint(views.blueprint)
    return app
