"""Diagnosis: which known cause an event is, read from the traceback and the project's code.

Everything in this package is pure: it takes an ``Event`` and a ``Project`` and returns data. It
opens no file, runs no process and reads no environment.
"""

from __future__ import annotations

from tracefix.diagnose.engine import diagnose
from tracefix.diagnose.project import Project

__all__ = ["Project", "diagnose"]
