from flask import Flask

from catalog.models import db
from config import Config


def create_app(config_class=Config):
    app = Flask(__name__)
    app.config.from_object(config_class)
    db.init_app(app)

    from catalog.commands import reindex_command

    app.cli.add_command(reindex_command)
    return app
