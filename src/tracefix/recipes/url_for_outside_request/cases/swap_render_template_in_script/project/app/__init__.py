from flask import Flask


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_mapping(SECRET_KEY="dev", PREFERRED_URL_SCHEME="https")
    if config:
        app.config.update(config)

    from app.main import bp

    app.register_blueprint(bp)
    return app
