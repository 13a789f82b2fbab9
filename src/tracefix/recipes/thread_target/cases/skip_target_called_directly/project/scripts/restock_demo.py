import threading

from inventory import create_app

app = create_app()
client = app.test_client()
item_id = client.post("/items").get_json()["id"]
print(client.post(f"/items/{item_id}/restock-later").status_code)
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
