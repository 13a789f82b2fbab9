from flask import Blueprint, jsonify, request

from extensions import db
from models import Note

bp = Blueprint("notes", __name__)


@bp.get("/notes")
def list_notes():
    return jsonify([note.text for note in db.session.scalars(db.select(Note))])


@bp.post("/notes")
def add_note():
    db.session.add(Note(text=request.json["text"]))
    db.session.commit()
    return "", 201
