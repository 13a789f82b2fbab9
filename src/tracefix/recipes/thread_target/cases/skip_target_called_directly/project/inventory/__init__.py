from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(test_config=None):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///:memory:"
    if test_config:
        app.config.update(test_config)
    db.init_app(app)

    from inventory import views

    app.register_blueprint(views.bp)
    with app.app_context():
        db.create_all()
    return app
