import threading

from flask import Flask
from flask import request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///:memory:"
db = SQLAlchemy(app)


class Search(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    term = db.Column(db.String(200), nullable=False)


with app.app_context():
    db.create_all()


def log_search():
    with app.app_context():
        db.session.add(Search(term=request.args["q"]))
        db.session.commit()


@app.get("/search")
def search():
    threading.Thread(target=log_search).start()
    return {"results": []}


if __name__ == "__main__":
    print(app.test_client().get("/search?q=flask").status_code)
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
