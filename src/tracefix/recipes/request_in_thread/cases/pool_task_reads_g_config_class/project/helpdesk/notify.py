from flask import g

from helpdesk.models import Notification
from helpdesk.models import Ticket
from helpdesk.models import db


def notify_watchers(ticket_id):
    """Tell every watcher who changed the ticket; returns how many were told."""
    changed_by = g.agent
    ticket = db.session.get(Ticket, ticket_id)
    recipients = [w for w in ticket.watchers.split(",") if w and w != changed_by]
    for recipient in recipients:
        text = f"{changed_by} updated '{ticket.title}'"
        db.session.add(Notification(ticket_id=ticket.id, recipient=recipient, text=text))
    db.session.commit()
    return len(recipients)
