"""Print the welcome email for a user: python -m scripts.send_welcome Ada"""

import sys

from flask import render_template

from app import create_app

app = create_app()

with app.test_request_context():
    for name in sys.argv[1:] or ["Ada"]:
        print(render_template("email/welcome.txt", name=name))
