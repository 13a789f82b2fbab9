from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(config=None):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///shop.db"
    app.config.update(config or {})
    db.init_app(app)

    from shop.views import bp

    app.register_blueprint(bp)
    with app.app_context():
        db.create_all()
    return app
