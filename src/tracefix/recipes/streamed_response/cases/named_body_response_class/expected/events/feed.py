from flask import Blueprint
from flask import copy_current_request_context
from flask import current_app
from flask import request
from flask import stream_with_context

feed = Blueprint("feed", __name__)


@feed.get("/stream")
def stream():
    @copy_current_request_context
    def events():
        since = int(request.args.get("since", 0))
        for number, event in enumerate(current_app.config["EVENT_BACKLOG"][since:], since):
            yield f"id: {number}\ndata: {event}\n\n"

    body = stream_with_context(events())
    return current_app.response_class(body, mimetype="text/event-stream")
