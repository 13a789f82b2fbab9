from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["SUBSCRIBERS"] = ["ada@example.com", "bob@example.com"]

    from newsletter.commands import send_digest_command

    app.cli.add_command(send_digest_command)
    return app
