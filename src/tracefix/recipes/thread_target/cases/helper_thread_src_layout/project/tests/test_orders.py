import threading

from shop import create_app


def test_create_order():
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:"})
    response = app.test_client().post("/orders", json={"item": "book", "quantity": 2})
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
    assert response.status_code == 201
