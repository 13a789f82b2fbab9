"""The ``tracefix`` command line."""

from __future__ import annotations

import click

from tracefix import __version__


@click.group()
@click.version_option(__version__, prog_name="tracefix")
def main() -> None:
    """Turn a Python runtime error into a verified, minimal fix."""
