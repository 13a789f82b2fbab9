from flask import Flask


def create_app(config=None):
    app = Flask(__name__)
    app.config["MAIL_DEFAULT_SENDER"] = "blog@example.com"
    app.config["OUTBOX"] = []
    app.config.update(config or {})

    from blog.auth import bp

    app.register_blueprint(bp)
    return app
