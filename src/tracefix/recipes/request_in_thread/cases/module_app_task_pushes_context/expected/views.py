import threading

from flask import jsonify, request

from app import app
from tasks import log_search


@app.get("/search")
def search():
    threading.Thread(
        target=log_search,
        args=(request.args.get("q", ""), request.headers.get("User-Agent")),
    ).start()
    return jsonify(results=[])
