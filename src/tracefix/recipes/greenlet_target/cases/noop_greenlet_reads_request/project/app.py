import gevent
from flask import Flask
from flask import request

app = Flask(__name__)
app.config["TESTING"] = True
audit_log = []


def record_search():
    with app.app_context():
        audit_log.append(request.args.get("q", ""))


@app.get("/search")
def search():
    gevent.joinall([gevent.spawn(record_search)], raise_error=True)
    return {"results": []}


if __name__ == "__main__":
    print(app.test_client().get("/search?q=tea").status_code)
