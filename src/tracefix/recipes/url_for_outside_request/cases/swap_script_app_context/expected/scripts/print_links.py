from flask import url_for

from app import create_app

app = create_app()
with app.test_request_context():
    print(url_for("users.list_users"))
