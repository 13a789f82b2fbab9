from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite:///orders.db")
    if test_config is not None:
        app.config.from_mapping(test_config)
    db.init_app(app)

    from orders import export

    app.register_blueprint(export.bp)
    return app
