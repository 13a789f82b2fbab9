import threading

from app import app


def test_index_answers_at_once():
    response = app.test_client().get("/")
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
    assert response.status_code == 200
