from flask import Blueprint, jsonify

from app.models import Book

bp = Blueprint("books", __name__)


@bp.get("/books")
def list_books():
    return jsonify([book.title for book in Book.query.order_by(Book.title)])
