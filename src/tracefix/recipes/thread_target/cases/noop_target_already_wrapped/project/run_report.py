import threading

from reports import create_app

app = create_app()
print(app.test_client().post("/reports/weekly").status_code)
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
