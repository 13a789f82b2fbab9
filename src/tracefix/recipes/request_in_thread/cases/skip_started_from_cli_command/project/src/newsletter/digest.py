from flask import current_app
from flask import request


def send_digest():
    """Mail this week's digest, with a link back to the site, to every subscriber."""
    link = request.host_url + "digest/latest"
    for subscriber in current_app.config["SUBSCRIBERS"]:
        print(f"to {subscriber}: read it at {link}")
