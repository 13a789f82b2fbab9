from flask import Flask

from ..extensions import db
from .config import Settings


def create_app(settings=Settings):
    app = Flask(__name__)
    app.config.from_object(settings)
    db.init_app(app)

    from . import views

    app.register_blueprint(views.bp)

    with app.app_context():
        db.create_all()

    return app
