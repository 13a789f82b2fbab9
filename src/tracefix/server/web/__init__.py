"""The server's Flask app: ingest (``ingest``), people (``auth``), and the dashboard."""

from __future__ import annotations

from flask import Flask

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.db import ensure_parent
from tracefix.server.ingest.intake import Intake
from tracefix.server.ingest.quota import Quotas
from tracefix.server.jobs import make_jobs
from tracefix.server.web.state import ServerState


def create_app(config: ServerConfig | None = None, *, migrate: bool = True) -> Flask:
    """The app, its database migrated to the latest schema, its intake and jobs running."""
    config = (config or ServerConfig.from_env()).prepared()
    ensure_parent(config.database_url)
    db = Database(config.database_url)
    if migrate:
        db.upgrade()
    jobs = make_jobs(config, db)
    state = ServerState(
        config=config,
        db=db,
        intake=Intake(db, on_stored=jobs.events_stored),
        quotas=Quotas(),
        jobs=jobs,
    )
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["tracefix"] = state

    from tracefix.server.web.ingest import ingest

    app.register_blueprint(ingest)
    from tracefix.server.web.auth import init_people
    from tracefix.server.web.dashboard import init_dashboard

    init_people(app)
    init_dashboard(app)
    return app
