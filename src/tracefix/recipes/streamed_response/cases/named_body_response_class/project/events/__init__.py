from flask import Flask


class Settings:
    EVENT_BACKLOG = ["deploy started", "deploy finished"]


def create_app(settings=Settings):
    app = Flask(__name__)
    app.config.from_object(settings)

    from events.feed import feed

    app.register_blueprint(feed, url_prefix="/events")
    return app
