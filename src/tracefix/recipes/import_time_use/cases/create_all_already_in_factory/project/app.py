from flask import Flask, jsonify, request

from extensions import db
from models import Todo


class Config:
    SQLALCHEMY_DATABASE_URI = "sqlite:///todos.db"


def create_app(config=Config):
    app = Flask(__name__)
    app.config.from_object(config)
    db.init_app(app)

    @app.get("/todos")
    def list_todos():
        return jsonify([t.title for t in db.session.scalars(db.select(Todo))])

    @app.post("/todos")
    def add_todo():
        db.session.add(Todo(title=request.json["title"]))
        db.session.commit()
        return "", 201

    with app.app_context():
        db.create_all()

    return app


if __name__ == "__main__":
    create_app().run(debug=True)
