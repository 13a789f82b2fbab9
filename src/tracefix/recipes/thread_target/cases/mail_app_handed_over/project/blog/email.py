from threading import Thread

from flask import current_app


def send_async_email(app, to, subject):
    """Hand the message to the outbox without holding up the request."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    current_app.config["OUTBOX"].append((sender, to, subject))


def send_email(to, subject):
    thread = Thread(
        target=send_async_email,
        args=(current_app._get_current_object(), to, subject),
    )
    thread.start()
    return thread
