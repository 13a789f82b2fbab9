import threading

from flask import copy_current_request_context
from flask import g
from flask import request

from blog import app
from blog.indexing import index_post


@app.before_request
def load_author():
    g.author = request.headers.get("X-Author", "guest")


@app.post("/posts")
def create_post():
    request.form  # read the body here: the thread reads it after the response
    threading.Thread(target=copy_current_request_context(index_post)).start()
    return "", 201
