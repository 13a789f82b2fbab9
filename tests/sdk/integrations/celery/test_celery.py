"""Celery task failures, on a real worker consuming from this machine's Redis.

Skipped when Redis is unreachable, unless ``CI`` is set: there the test fails instead, so a
missing service cannot pass as green.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

celery = pytest.importorskip("celery")
redis = pytest.importorskip("redis")

from celery import Celery  # noqa: E402
from celery.contrib.testing.worker import start_worker  # noqa: E402

from ...conftest import CapturedEvents  # noqa: E402
from ...conftest import TracefixInit  # noqa: E402
from ...conftest import check_event  # noqa: E402
from ...file_transport import HERE as FILE_TRANSPORT_DIR  # noqa: E402
from ...file_transport import read_records  # noqa: E402

#: Celery's Redis result backend calls redis-py's deprecated ``setex`` (celery 5.7, redis 8).
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")

REDIS_URL = os.environ.get("TRACEFIX_TEST_REDIS", "redis://127.0.0.1:6379/15")


class Expected(Exception):
    pass


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable on CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return REDIS_URL


@pytest.fixture
def app(redis_url: str) -> Celery:
    app = Celery(f"tracefix-tests-{uuid.uuid4().hex[:8]}", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_default_queue=f"tracefix-tests-{uuid.uuid4().hex}",
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name="shop.charge", shared=False)
    def charge(order_id: int, amount: int, card_token: str | None = None) -> None:
        total = amount * 100  # noqa: F841 - a local the event must show
        raise ValueError(f"cannot charge order {order_id}")

    @app.task(name="shop.expected", throws=(Expected,), shared=False)
    def expected() -> None:
        raise Expected("a business outcome, not a bug")

    @app.task(name="shop.ok", shared=False)
    def ok() -> int:
        return 1

    return app


@pytest.fixture
def worker(app: Celery) -> Iterator[Any]:
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_failing_task_is_captured_with_its_name_id_and_args(
    app: Celery, tracefix_init: TracefixInit, captured_events: CapturedEvents, worker: Any
) -> None:
    tracefix_init()
    result = app.tasks["shop.charge"].delay(42, 10, card_token="tok_4eC39HqLyjWDarjtT1zdp7dc")
    with pytest.raises(ValueError, match="cannot charge order 42"):
        result.get(timeout=10)
    assert wait_for(lambda: len(captured_events()) == 1)

    (event,) = captured_events()
    (value,) = event["exception"]["values"]
    assert value["mechanism"] == {"type": "celery", "handled": False}
    assert value["stacktrace"]["frames"][-1]["vars"]["total"] == "1000"
    task = event["contexts"]["celery"]
    assert task["task"] == "shop.charge"
    assert task["task_id"] == result.id
    assert task["args"] == ["42", "10"]
    assert task["kwargs"] == {"card_token": "[Filtered]"}
    assert event["extra"]["celery-job"]["task_name"] == "shop.charge"
    assert event["transaction"] == "shop.charge"
    parsed = check_event(event)
    assert parsed.celery is not None
    assert (parsed.celery.task, parsed.celery.task_id) == ("shop.charge", result.id)


def test_celerys_log_of_the_failure_is_not_a_second_event(
    app: Celery, tracefix_init: TracefixInit, captured_events: CapturedEvents, worker: Any
) -> None:
    tracefix_init()
    app.tasks["shop.charge"].delay(1, 1).get(timeout=10, propagate=False)
    app.tasks["shop.ok"].delay().get(timeout=10)  # the worker moved on: the failure is done
    assert len(captured_events()) == 1


def test_expected_exceptions_are_not_errors(
    app: Celery, tracefix_init: TracefixInit, captured_events: CapturedEvents, worker: Any
) -> None:
    tracefix_init()
    app.tasks["shop.expected"].delay().get(timeout=10, propagate=False)
    app.tasks["shop.ok"].delay().get(timeout=10)
    assert captured_events() == []


WORKER_MODULE = """
import sys
sys.path.insert(0, {file_transport_dir!r})
import tracefix
from celery import Celery
from file_transport import FileTransport

tracefix.init(transport=FileTransport({records!r}), shutdown_timeout=1.5)
app = Celery("jobs", broker={redis_url!r})
app.conf.update(task_default_queue={queue!r}, worker_hijack_root_logger=False)


@app.task(name="jobs.resize")
def resize(image_id):
    raise OSError("image " + str(image_id) + " is unreadable")
"""


def test_a_prefork_worker_process_captures_and_flushes_at_shutdown(
    redis_url: str, tmp_path: Path
) -> None:
    """A real ``celery worker``: the task fails in a forked child, which flushes on
    ``worker_process_shutdown`` (it exits through ``os._exit``: no atexit); the main process
    flushes on ``worker_shutdown`` after a SIGTERM."""
    records = tmp_path / "records.jsonl"
    queue = f"tracefix-tests-{uuid.uuid4().hex}"
    (tmp_path / "jobs.py").write_text(
        WORKER_MODULE.format(
            file_transport_dir=FILE_TRANSPORT_DIR,
            records=str(records),
            redis_url=redis_url,
            queue=queue,
        )
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "jobs",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sender = Celery("sender", broker=redis_url)
        sender.send_task("jobs.resize", args=(7,), queue=queue)
        assert wait_for(
            lambda: any("event" in r for r in read_records(str(records))), timeout=60
        ), "no event from the worker"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)

    records_read = read_records(str(records))
    (event,) = [r["event"] for r in records_read if "event" in r]
    assert event["exception"]["values"][0]["type"] == "OSError"
    assert event["contexts"]["celery"]["task"] == "jobs.resize"
    assert event["contexts"]["celery"]["args"] == ["7"]
    child = next(r["pid"] for r in records_read if "event" in r)
    flushes = {(r["pid"], r.get("flush", r.get("close"))) for r in records_read if "event" not in r}
    assert (child, 1.5) in flushes, output  # worker_process_shutdown, in the child
    assert any(pid == worker.pid for pid, _ in flushes), output  # the main process
