from flask import url_for

from app import create_app

app = create_app()
with app.app_context():
    print(url_for("users.list_users"))
