"""tracefix: from a Python runtime error to a verified, minimal fix."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
