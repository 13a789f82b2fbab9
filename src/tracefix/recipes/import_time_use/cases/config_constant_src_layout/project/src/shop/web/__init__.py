from flask import Flask

from shop.config import Config


def create_app(config_class=Config):
    app = Flask(__name__)
    app.config.from_object(config_class)

    from shop.web.views import bp

    app.register_blueprint(bp)
    return app
