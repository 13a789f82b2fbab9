from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app(config=None):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config.update(config or {})
    db.init_app(app)

    @app.get("/users/<name>")
    def user(name):
        from shop.models import User

        found = User.query.filter_by(name=name).first_or_404()
        return {"name": found.name}

    return app
