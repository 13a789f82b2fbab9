"""The jobs as Celery tasks, for ``tracefix worker`` (``TRACEFIX_BROKER_URL`` set)."""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery  # type: ignore[import-untyped]

from tracefix.server.config import ServerConfig
from tracefix.server.db import Database
from tracefix.server.jobs import CeleryJobs
from tracefix.server.jobs import run_digest
from tracefix.server.jobs import run_fix
from tracefix.server.jobs import run_review


def celery_app(config: ServerConfig) -> Celery:
    app = Celery("tracefix", broker=config.broker_url)
    app.conf.update(
        task_acks_late=True,  # a worker killed mid-job leaves it for another: jobs are idempotent
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )
    app.conf.task_routes = {"tracefix.fix": {"queue": "tracefix.fix"}}
    # Run by the one worker started with ``--beat`` (``tracefix worker --beat``).
    app.conf.beat_schedule = {
        "tracefix.review": {"task": "tracefix.review", "schedule": config.review_interval}
    }

    @app.task(name="tracefix.digest")  # type: ignore[untyped-decorator]
    def digest() -> int:
        config_, db = _worker_resources()
        return run_digest(config_, db, CeleryJobs(config_))

    @app.task(name="tracefix.fix")  # type: ignore[untyped-decorator]
    def fix(issue_id: int) -> None:
        config_, db = _worker_resources()
        run_fix(config_, db, issue_id)

    @app.task(name="tracefix.review")  # type: ignore[untyped-decorator]
    def review() -> None:
        config_, db = _worker_resources()
        run_review(config_, db)

    return app


@cache
def _worker_resources() -> tuple[ServerConfig, Database]:
    config = ServerConfig.from_env().prepared()
    return config, Database(config.database_url)


def worker_argv(extra: tuple[str, ...] = ()) -> list[Any]:
    return ["worker", "--queues", "celery,tracefix.fix", *extra]
