from flask import Blueprint
from flask import current_app
from flask import g
from flask import request

from helpdesk.models import Ticket
from helpdesk.models import db
from helpdesk.models import notifier
from helpdesk.notify import notify_watchers

bp = Blueprint("tickets", __name__)


@bp.post("/tickets/<int:ticket_id>/title")
def rename(ticket_id):
    ticket = db.get_or_404(Ticket, ticket_id)
    ticket.title = request.form["title"]
    db.session.commit()
    app = current_app._get_current_object()
    told = notifier.submit(notify_watchers, app, g.agent, ticket.id)
    return {"notified": told.result(timeout=10)}
