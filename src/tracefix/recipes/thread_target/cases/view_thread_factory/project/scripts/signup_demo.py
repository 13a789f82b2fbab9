"""Sign a user up through the test client and wait for the welcome email to be queued."""

import threading

from app import create_app
from app import db
from app.models import Message

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:", "SITE_NAME": "Acme"})
response = app.test_client().post("/signup", data={"email": "ada@example.com"})
print(response.status_code, response.get_json())
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
with app.app_context():
    print("queued:", [m.subject for m in db.session.scalars(db.select(Message))])
