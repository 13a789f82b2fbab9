import threading

from shop import create_app


def test_a_report_is_queued(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/test.db"})
    response = app.test_client().post("/reports/weekly")
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
    assert response.status_code == 202
