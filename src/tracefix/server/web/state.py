"""What the web app's views share: the config, the database, the intake, quotas, jobs
and the count of failed sign-ins."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from flask import current_app

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.ingest.intake import Intake
from tracefix.server.ingest.quota import Quotas
from tracefix.server.jobs import Jobs
from tracefix.server.web.throttle import SignInThrottle


@dataclass
class ServerState:
    config: ServerConfig
    db: Database
    intake: Intake
    quotas: Quotas
    jobs: Jobs
    sign_in_throttle: SignInThrottle = field(default_factory=SignInThrottle)

    def close(self) -> None:
        self.intake.close()
        self.jobs.close()
        self.db.dispose()


def server_state() -> ServerState:
    state: ServerState = current_app.extensions["tracefix"]
    return state
