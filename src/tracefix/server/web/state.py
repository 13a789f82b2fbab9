"""What the web app's views share: the config, the database, the intake, quotas and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.ingest.intake import Intake
from tracefix.server.ingest.quota import Quotas
from tracefix.server.jobs import Jobs


@dataclass
class ServerState:
    config: ServerConfig
    db: Database
    intake: Intake
    quotas: Quotas
    jobs: Jobs

    def close(self) -> None:
        self.intake.close()
        self.jobs.close()
        self.db.dispose()


def server_state() -> ServerState:
    state: ServerState = current_app.extensions["tracefix"]
    return state
