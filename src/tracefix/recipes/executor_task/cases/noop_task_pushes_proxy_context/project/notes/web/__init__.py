from flask import Flask

from notes.models import db

CONFIGS = {
    "development": {"SQLALCHEMY_DATABASE_URI": "sqlite:///notes.db"},
    "testing": {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:"},
}


def create_app(config_name="development"):
    app = Flask(__name__)
    app.config.from_mapping(CONFIGS[config_name])
    db.init_app(app)

    from notes.web.views import bp

    app.register_blueprint(bp)
    with app.app_context():
        db.create_all()
    return app
