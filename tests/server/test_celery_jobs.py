"""Jobs on Celery: ``tracefix worker`` digests and fixes what the server stored (Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tracefix.server.models import Fix
from tracefix.server.models import Issue
from tracefix.server.projects import create_project

from .conftest import clean_redis_broker
from .conftest import state
from .test_ingest import auth
from .test_ingest import envelope
from .test_ingest import event_payload

BROKER = os.environ.get("TRACEFIX_TEST_REDIS", "redis://127.0.0.1:6379/11")


@pytest.fixture
def broker() -> str:
    return clean_redis_broker(BROKER)


def test_a_worker_digests_and_attempts_the_fix(make_app: Any, broker: str, tmp_path: Path) -> None:
    app = make_app(broker_url=broker)
    config = state(app).config
    env = {
        **os.environ,
        "TRACEFIX_DATA_DIR": str(config.data_dir),
        "TRACEFIX_DATABASE_URL": config.database_url,
        "TRACEFIX_BROKER_URL": broker,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "tracefix", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with state(app).db.write_session() as session:
            project = create_project(session, "shop")  # no repository: the fix job says so
            project_id, key = project.id, project.public_key
        response = app.test_client().post(
            f"/api/{project_id}/envelope/",
            data=envelope(event_payload("7" * 32)),
            headers=auth(key),
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 60
        fix = None
        while time.monotonic() < deadline and fix is None:
            with state(app).db.session() as session:
                fix = session.scalars(select(Fix).where(Fix.state != "running")).first()
                issues = list(session.scalars(select(Issue)))
            time.sleep(0.3)
        assert fix is not None, "the worker did not run the jobs"
        assert [issue.event_count for issue in issues] == [1]
        assert fix.state == "failed" and "has no repository" in (fix.error or "")
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert "Traceback" not in output, output
