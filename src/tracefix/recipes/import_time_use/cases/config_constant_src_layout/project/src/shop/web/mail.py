"""Messages the shop sends: built here, sent by the mail worker."""

from flask import current_app

ADMIN_EMAIL = current_app.config["ADMIN_EMAIL"]
SENDER = current_app.config.get("MAIL_SENDER", "noreply@localhost")


def order_notice(order_id):
    return {
        "from": SENDER,
        "to": ADMIN_EMAIL,
        "subject": f"New order #{order_id}",
    }


def contact_notice(sender, text):
    return {"from": SENDER, "to": ADMIN_EMAIL, "reply_to": sender, "body": text}
