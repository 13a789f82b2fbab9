"""Capture: run the user's command and record every exception it raises as an ``Event``."""
