import atexit

from flask import Flask
from flask import url_for

app = Flask(__name__)


@app.get("/status")
def status():
    return {"ok": True}


@atexit.register
def announce_shutdown():
    with app.app_context():
        app.logger.warning("going down; status page: %s", url_for("status", _external=True))


if __name__ == "__main__":
    with app.test_client() as client:
        client.get("/status")
