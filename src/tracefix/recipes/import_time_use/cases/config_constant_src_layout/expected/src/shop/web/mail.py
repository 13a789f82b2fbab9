"""Messages the shop sends: built here, sent by the mail worker."""

from flask import current_app


def order_notice(order_id):
    return {
        "from": current_app.config.get("MAIL_SENDER", "noreply@localhost"),
        "to": current_app.config["ADMIN_EMAIL"],
        "subject": f"New order #{order_id}",
    }


def contact_notice(sender, text):
    admin_email = current_app.config["ADMIN_EMAIL"]
    mail_sender = current_app.config.get("MAIL_SENDER", "noreply@localhost")
    return {"from": mail_sender, "to": admin_email, "reply_to": sender, "body": text}
