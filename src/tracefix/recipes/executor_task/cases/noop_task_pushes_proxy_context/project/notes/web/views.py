from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint
from flask import Response

from notes.exports import export_notes

bp = Blueprint("notes", __name__)
exports = ThreadPoolExecutor(max_workers=2, thread_name_prefix="export")


@bp.get("/users/<owner>/notes.csv")
def notes_csv(owner):
    future = exports.submit(export_notes, owner)
    return Response(future.result(timeout=30), mimetype="text/csv")
