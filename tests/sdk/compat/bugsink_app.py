"""The app that ``test_bugsink.py`` runs in a subprocess against a real Bugsink server.

    python bugsink_app.py send DSN SPOOL_DIR     # errors from Flask, a thread, capture_exception
    python bugsink_app.py offline DSN SPOOL_DIR  # three errors while the server is down
    python bugsink_app.py drain DSN SPOOL_DIR N  # a later start: wait until N spooled are sent

Each mode prints one JSON line last: the event ids it made and the transport's counters.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

import tracefix
from tracefix.sdk.transport import HttpTransport


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def drop_marked(event: dict, hint: dict) -> dict | None:
    """``before_send``: drops the error whose message says "drop me", so that a ``client_report``
    item goes to the server too."""
    values = event["exception"]["values"]
    if any("drop me" in value["value"] for value in values):
        return None
    return event


def start(dsn: str, spool_dir: str) -> HttpTransport:
    client = tracefix.init(
        dsn,
        release="compat@1.0",
        environment="bugsink-compat",
        before_send=drop_marked,
        spool_dir=spool_dir,
        backoff_base=0.2,
        backoff_max=1.0,
        report_interval=0.5,
    )
    transport = client.transport
    assert isinstance(transport, HttpTransport), transport
    return transport


def stats(transport: HttpTransport) -> dict:
    s = transport.stats
    return {
        "queued": s.queued,
        "spooled": s.spooled,
        "sent": s.sent,
        "posts": s.posts,
        "failures": s.failures,
        "dropped": {f"{reason}:{category}": n for (reason, category), n in s.dropped.items()},
    }


def load_invoice(invoice_id: int) -> str:
    total_cents = 1234
    lines = ["café", "b"]
    huge = list(range(100_000))
    odd = Unprintable()
    recursive: list = []
    recursive.append(recursive)
    _ = (total_cents, huge, odd, recursive)  # locals the event must survive
    return lines[invoice_id]


def send(dsn: str, spool_dir: str) -> dict:
    from flask import Flask

    transport = start(dsn, spool_dir)
    app = Flask("bugsink_compat_app")

    @app.route("/invoice/<int:invoice_id>")
    def invoice(invoice_id: int) -> dict:
        customer = "acme"
        try:
            line = load_invoice(invoice_id)
        except IndexError as exc:
            raise LookupError(f"no line {invoice_id} for {customer}") from exc
        return {"line": line}

    statuses = [app.test_client().get("/invoice/5").status_code]

    def batch_job(batch_size: int) -> None:
        pending = {"batch": batch_size}
        raise RuntimeError(f"batch of {pending['batch']} failed — ünïcode")

    thread = threading.Thread(target=batch_job, args=(7,), name="batch-worker")
    thread.start()
    thread.join()

    ids = []
    try:
        retries = 3
        int(f"not-a-number-{retries}")
    except ValueError as exc:
        ids.append(tracefix.capture_exception(exc))
    try:
        raise ValueError("drop me")
    except ValueError as exc:
        ids.append(tracefix.capture_exception(exc))
    flushed = tracefix.flush(10)  # sends the client report of the dropped one too
    return {"statuses": statuses, "ids": ids, "flushed": flushed, **stats(transport)}


def offline(dsn: str, spool_dir: str) -> dict:
    transport = start(dsn, spool_dir)
    ids = []
    for n in range(3):
        try:
            raise ConnectionError(f"outage error {n}")
        except ConnectionError as exc:
            ids.append(tracefix.capture_exception(exc))
    tracefix.close(2)  # what could not be sent waits in the spool
    return {"ids": ids, **stats(transport)}


def drain(dsn: str, spool_dir: str, expected: int) -> dict:
    transport = start(dsn, spool_dir)
    deadline = time.monotonic() + 30
    while transport.stats.sent < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    tracefix.flush(5)
    return stats(transport)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    mode, dsn, spool_dir = sys.argv[1:4]
    if mode == "send":
        result = send(dsn, spool_dir)
    elif mode == "offline":
        result = offline(dsn, spool_dir)
    else:
        result = drain(dsn, spool_dir, int(sys.argv[4]))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
