import time

from flask import Flask
from flask import g
from flask import request

app = Flask(__name__)
app.config["LOG_LINES"] = ["boot", "ready", "GET /", "GET /health"]


@app.before_request
def start_timer():
    g.started = time.monotonic()


def tail_log():
    """The log, line by line, as the operator follows it."""
    wanted = request.args.get("grep", "")
    for line in app.config["LOG_LINES"]:
        if wanted in line:
            yield line + "\n"
    yield f"-- {time.monotonic() - g.started:.0f}s\n"


@app.get("/log")
def log():
    return tail_log(), {"Content-Type": "text/plain; charset=utf-8"}


if __name__ == "__main__":
    response = app.test_client().get("/log?grep=GET")
    print(response.get_data(as_text=True), end="")
