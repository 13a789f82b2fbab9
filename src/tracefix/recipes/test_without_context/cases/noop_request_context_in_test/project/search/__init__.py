from flask import Flask
from flask import jsonify
from flask import request
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def search_terms():
    return [term for term in request.args.get("q", "").split() if term]


def create_app(config=None):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///:memory:"
    app.config.update(config or {})
    db.init_app(app)

    @app.get("/search")
    def search():
        return jsonify(terms=search_terms())

    return app
