import threading

from blog import app

app.test_client().post("/posts", data={"body": "Hello Flask"}, headers={"X-Author": "ada"})
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
print(app.config["SEARCH_INDEX"])
