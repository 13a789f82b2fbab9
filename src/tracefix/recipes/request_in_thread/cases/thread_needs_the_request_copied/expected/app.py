import threading

from flask import Flask, copy_current_request_context

from analytics import track_visit


def create_app():
    app = Flask(__name__)
    app.extensions["visits"] = {}

    @app.get("/pages/<page>")
    def show(page):
        threading.Thread(
            target=copy_current_request_context(track_visit),
            args=(page,),
        ).start()
        return f"<h1>{page}</h1>"

    return app


if __name__ == "__main__":
    app = create_app()
    client = app.test_client()
    for _ in range(2):
        client.get("/pages/about", headers={"User-Agent": "demo", "Accept-Language": "en"})
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
    print(sorted(app.extensions["visits"].values()))
