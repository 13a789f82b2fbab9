"""Sign in through the test client and show the audit trail the sign-in left."""

import threading

from accounts import create_app
from accounts import db
from accounts.models import LoginEvent
from accounts.models import User

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///login-demo.db"})
with app.app_context():
    db.drop_all()
    db.create_all()
    db.session.add(User(email="ada@example.com"))
    db.session.commit()
response = app.test_client().post("/login", data={"email": "ada@example.com"})
print(response.status_code)
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
with app.app_context():
    print([(event.user_id, event.ip) for event in db.session.scalars(db.select(LoginEvent))])
