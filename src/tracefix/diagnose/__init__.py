"""Diagnosis: which known cause an event is, read from the traceback and the project's code.

Everything in this package is pure: it takes an ``Event`` and a ``Project`` and returns data. It
opens no file, runs no process and reads no environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from tracefix.diagnose.project import Project

if TYPE_CHECKING:
    from tracefix.diagnose.engine import diagnose

__all__ = ["Project", "diagnose"]


def __getattr__(name: str) -> Any:
    """``diagnose`` imported when first asked for: ``tracefix scan`` imports this package for
    its ``Diagnosis`` and ``Project``, and never diagnoses an event."""
    if name == "diagnose":
        from tracefix.diagnose.engine import diagnose

        return diagnose
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
