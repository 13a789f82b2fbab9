"""Ingest: Sentry's protocol in (``protocol``), durable storage before the answer (``intake``),
and per-project quotas (``quota``)."""
