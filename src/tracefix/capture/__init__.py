"""Capture: run the user's command and record every exception it raises as an ``Event``.

``run_captured`` is the entry point; ``parse_tracebacks`` reads events out of traceback text
when the in-process hook could not run.
"""

from tracefix.capture.runner import Capture
from tracefix.capture.runner import run_captured
from tracefix.capture.traceback_text import parse_tracebacks

__all__ = ["Capture", "parse_tracebacks", "run_captured"]
