from flask import Flask
from flask import jsonify
from flask import request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///:memory:"
db = SQLAlchemy(app)


class Todo(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    done = db.Column(db.Boolean, default=False, nullable=False)


with app.app_context():
    db.create_all()


@app.post("/todos")
def add_todo():
    todo = Todo(title=request.json["title"])
    db.session.add(todo)
    db.session.commit()
    return jsonify(id=todo.id), 201


def open_todos():
    return db.session.scalars(db.select(Todo).filter_by(done=False)).all()
