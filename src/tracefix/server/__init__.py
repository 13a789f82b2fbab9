"""The server: ingest Sentry-protocol events, group them into issues, show them, fix them.

A map, in the order data flows:

- ``ingest/``: the protocol (``protocol``), quotas (``quota``), and the group-committing writer
  (``intake``) that stores an event before the request is answered.
- ``digest``: groups stored events into issues (``grouping`` computes the fingerprint).
- ``jobs`` / ``tasks``: run the digest and fix jobs, in-process or on Celery workers.
- ``fixing``: the fix job, with the engine of ``tracefix run``.
- ``web/``: the Flask app: the ingest endpoints and the dashboard.
- ``models``, ``db``, ``migrations/``: storage, SQLAlchemy 2 and Alembic.
- ``config``: settings from ``TRACEFIX_*`` variables, on embedded defaults.
"""
