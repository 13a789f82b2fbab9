from flask import Flask
from flask import g
from flask import request

from helpdesk.config import Config
from helpdesk.models import db


def create_app(config_class=Config):
    app = Flask(__name__)
    app.config.from_object(config_class)
    db.init_app(app)

    @app.before_request
    def identify_agent():
        g.agent = request.headers.get("X-Agent", "anonymous")

    from helpdesk.web.tickets import bp

    app.register_blueprint(bp)
    return app
