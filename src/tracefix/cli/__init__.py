"""The ``tracefix`` command line.

Exit codes (``tracefix.errors`` draws the whole tree): 0 a verified fix, or a command that did
not fail; 1 an unverified candidate; 2 a usage error; 10–18 a named dead end (not a git
repository, dirty files, command not found, unknown cause, syntax error, worktree, not
reproduced, no safe fix, delivery); 70 an internal error of tracefix (set ``TRACEFIX_DEBUG=1``
for its traceback); 130 Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import traceback
from pathlib import Path

import click

from tracefix import __version__
from tracefix.errors import Interrupted

INTERNAL_ERROR_EXIT_CODE = 70


@click.group()
@click.version_option(__version__, prog_name="tracefix")
def main() -> None:
    """Turn a Python runtime error into a verified, minimal fix."""


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--apply", "apply_fix", is_flag=True, help="Write the verified fix into the work tree."
)
@click.option(
    "--branch",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[NAME]",
    help="Commit the verified fix on a new branch (default tracefix/<cause>-<id>); "
    "your checkout is left as it is.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the whole result as one JSON document."
)
@click.option("--test-cmd", default=None, metavar="CMD", help="The project's test command.")
@click.option("--no-tests", is_flag=True, help="Do not run the project's tests.")
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds each run of the command or the tests may take.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    apply_fix: bool,
    branch: str | None,
    as_json: bool,
    test_cmd: str | None,
    no_tests: bool,
    timeout: float,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND; if it fails with a known cause, write and verify the fix.

    \b
    tracefix run -- python -m scripts.seed_db
    tracefix run --branch -- pytest tests/test_users.py
    """
    from tracefix.pipeline import RunOptions
    from tracefix.pipeline import run as run_pipeline

    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise click.UsageError("no command given: tracefix run -- CMD [ARGS...]")
    options = RunOptions(
        argv=command,
        cwd=Path.cwd(),
        test_cmd=tuple(shlex.split(test_cmd)) if test_cmd else None,
        run_tests=not no_tests,
        apply=apply_fix,
        branch=branch,
        timeout=timeout,
    )
    try:
        report = run_pipeline(options, output=sys.stderr if as_json else None)
    except KeyboardInterrupt:
        error = Interrupted("interrupted; the worktree was removed and your files are unchanged")
        click.echo(f"\ntracefix: error: {error.message}", err=True)
        sys.exit(error.exit_code)
    except Exception as exc:
        if os.environ.get("TRACEFIX_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"tracefix: error: internal error ({type(exc).__name__}: {exc}); your files are "
            "unchanged. Please report it; TRACEFIX_DEBUG=1 shows the traceback.",
            err=True,
        )
        sys.exit(INTERNAL_ERROR_EXIT_CODE)
    from rich.console import Console

    from tracefix.cli.render import render_text
    from tracefix.cli.render import to_json

    if as_json:
        # stdout carries the document alone: the command's own output went to stderr.
        click.echo(json.dumps(to_json(report), indent=2))
    else:
        render_text(report, Console(highlight=False, soft_wrap=True))
    sys.exit(report.exit_code)


def _register_server_commands() -> None:
    from tracefix.cli.server import register

    register(main)


_register_server_commands()

from tracefix.cli import scan as _scan  # noqa: E402, F401  (importing it adds `tracefix scan`)
