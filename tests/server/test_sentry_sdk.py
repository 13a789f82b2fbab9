"""sentry-sdk 2.x pointed at the server works unchanged: only the DSN differs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from sqlalchemy import select

from tracefix.server.models import Event
from tracefix.server.models import Issue
from tracefix.server.projects import create_project
from tracefix.server.projects import dsn

from .conftest import LiveServer
from .conftest import state

APP = textwrap.dedent(
    """
    import sys
    import sentry_sdk
    sentry_sdk.init(dsn=sys.argv[1], release="shop@1.4.0", environment="staging")

    def sync_orders(batch):
        raise RuntimeError("Working outside of application context.")

    for attempt in range(2):
        try:
            sync_orders([101, 102])
        except RuntimeError as error:
            sentry_sdk.capture_exception(error)
    sentry_sdk.flush(10)
    """
)


def test_sentry_sdk_events_are_stored_and_grouped(make_app: Any) -> None:
    app = make_app()
    server = LiveServer(app)
    try:
        with state(app).db.write_session() as session:
            project_dsn = dsn(server.url, create_project(session, "shop"))
        sent = subprocess.run(
            [sys.executable, "-c", APP, project_dsn], capture_output=True, text=True, timeout=60
        )
        assert sent.returncode == 0, sent.stderr
        assert state(app).jobs.wait_digested(10)
    finally:
        server.stop()
    with state(app).db.session() as session:
        events = list(session.scalars(select(Event)))
        (issue,) = session.scalars(select(Issue))
    assert len(events) == 2
    assert {(e.release, e.environment) for e in events} == {("shop@1.4.0", "staging")}
    assert issue.event_count == 2
    assert issue.title == "RuntimeError: Working outside of application context."
    assert issue.culprit.endswith("in sync_orders")
    payload = json.loads(events[0].payload)
    assert payload["sdk"]["name"].startswith("sentry.python")
