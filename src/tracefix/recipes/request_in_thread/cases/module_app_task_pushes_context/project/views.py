import threading

from flask import jsonify

from app import app
from tasks import log_search


@app.get("/search")
def search():
    threading.Thread(target=log_search).start()
    return jsonify(results=[])
