"""``tracefix scan [PATHS]``: find the recipes' causes in the code, before it runs.

Exit codes: 0 nothing found (or everything found was fixed), 1 findings or files that could not
be checked, 2 a usage or configuration error (one line, ``tracefix: error: ...``), 18 the fixes
could not be written (nothing was), 70 an internal error of tracefix.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any
from typing import NoReturn

import click

from tracefix.cli import INTERNAL_ERROR_EXIT_CODE
from tracefix.cli import main

FORMATS = ("text", "json", "sarif", "github")


class ScanUsageError(click.ClickException):
    """A usage or configuration error, shown as one line (click's own would take four)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"tracefix: error: {self.message}", err=True)


class _OneLineUsageCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise ScanUsageError(exc.format_message().replace("\n", " ")) from None


@main.command(cls=_OneLineUsageCommand)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text (like ruff), json, sarif (SARIF 2.1.0) or github (workflow annotations).",
)
@click.option("--fix", is_flag=True, help="Apply the fixes their recipes declare safe.")
@click.option(
    "--select",
    metavar="CODES",
    default=None,
    help="Comma-separated codes or prefixes to check, instead of [tool.tracefix] select.",
)
@click.option(
    "--ignore",
    metavar="CODES",
    default=None,
    help="Comma-separated codes or prefixes not to check, added to [tool.tracefix] ignore.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The pyproject.toml to read [tool.tracefix] from (default: the project root's).",
)
def scan(
    paths: tuple[Path, ...],
    output_format: str,
    fix: bool,
    select: str | None,
    ignore: str | None,
    config_path: Path | None,
) -> None:
    """Find Flask code that will run without the context it needs.

    Reads the whole project (honouring .gitignore and [tool.tracefix] exclude) and reports on
    PATHS (files or folders; default: all). A `# tracefix: ignore[CODE]` comment on a line
    suppresses that code there. Exits 1 when anything is found.

    \b
    tracefix scan
    tracefix scan --format sarif > tracefix.sarif
    tracefix scan --fix scripts/ tests/
    """
    try:
        exit_code = _scan(paths, output_format, fix, select, ignore, config_path)
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        click.echo("\ntracefix: error: interrupted; no file was written", err=True)
        sys.exit(130)
    except Exception as exc:
        _internal_error(exc)
    sys.exit(exit_code)


def _scan(
    paths: tuple[Path, ...],
    output_format: str,
    fix: bool,
    select: str | None,
    ignore: str | None,
    config_path: Path | None,
) -> int:
    from tracefix.errors import DeliveryError
    from tracefix.recipes import codes
    from tracefix.recipes import recipes_for
    from tracefix.scan.config import ConfigError
    from tracefix.scan.config import load_config
    from tracefix.scan.engine import ScanError
    from tracefix.scan.files import find_root
    from tracefix.scan.files import list_files
    from tracefix.scan.files import read_project
    from tracefix.scan.files import select_paths
    from tracefix.scan.formats import render
    from tracefix.scan.processes import scan as run_scan

    cwd = Path.cwd()
    root = find_root(cwd)
    try:
        config = load_config(root, config_path).with_command_line(select, ignore)
        config.check_codes(codes())
    except ConfigError as exc:
        raise ScanUsageError(str(exc)) from None
    selected = list(recipes_for({code for code in codes() if config.enabled(code)}))
    listed = list_files(root, config.exclude)
    try:
        chosen = select_paths(root, cwd, paths, listed)
    except ValueError as exc:
        raise ScanUsageError(str(exc)) from None
    project, read = read_project(root, listed)
    chosen = [path for path in chosen if path in project.files]
    result = run_scan(project, chosen, selected)
    unreadable = [ScanError(path, 1, 1, f"not checked: {why}") for path, why in read.unreadable]
    result.errors.extend(error for error in unreadable if error.path.endswith(".py"))

    def display(path: str) -> str:
        return (
            os.path.relpath(root / path, cwd)
            if (root / path).is_relative_to(cwd)
            else str(root / path)
        )

    if fix:
        from tracefix.deliver.apply import apply_changes
        from tracefix.scan.fixing import fix_findings

        report, result = fix_findings(project, chosen, selected, result)
        result.errors.extend(error for error in unreadable if error.path.endswith(".py"))
        try:
            apply_changes(root, report.changes)
        except DeliveryError as exc:
            click.echo(f"tracefix: error: {exc.message}; no file was written", err=True)
            return DeliveryError.exit_code
        for finding, reason in report.declined:
            click.echo(
                f"{display(finding.path)}:{finding.line}:{finding.column}: {finding.code} "
                f"not fixed: {reason}",
                err=True,
            )
        if report.fixed:
            files = len(report.changes)
            click.echo(
                f"Fixed {len(report.fixed)} finding{'s' if len(report.fixed) != 1 else ''} "
                f"in {files} file{'s' if files != 1 else ''}.",
                err=True,
            )
    output = render(result, output_format, selected, display, root)
    if output:
        click.echo(output)
    exit_code = 1 if result.found_anything else 0
    _exit_now_if_own_process(exit_code)
    return exit_code


def _exit_now_if_own_process(exit_code: int) -> None:
    """Exit at once, with the project's trees still alive, when this process is
    ``tracefix`` itself (``python -m tracefix``, the console script, a pre-commit hook): freeing
    half a million tree nodes one by one, on the way out, took a tenth of a large scan's time,
    and nothing is left to run but ``atexit`` handlers, which the scan registers none of. Not
    in a process that called ``main()`` itself (a test, a script): it goes on afterwards."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    argv0 = os.path.basename(sys.argv[0]) if sys.argv else ""
    own = (spec is not None and spec.name == "tracefix.__main__") or (
        spec is None
        and argv0 in ("tracefix", "tracefix.exe")
        and os.path.abspath(getattr(main_module, "__file__", "") or "")
        == os.path.abspath(sys.argv[0])
    )
    if not own:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return  # the ordinary exit reports it as it always has
    os._exit(exit_code)


def _internal_error(exc: BaseException) -> NoReturn:
    if os.environ.get("TRACEFIX_DEBUG"):
        traceback.print_exc()
    click.echo(
        f"tracefix: error: internal error ({type(exc).__name__}: {exc}); your files are "
        "unchanged. Please report it; TRACEFIX_DEBUG=1 shows the traceback.",
        err=True,
    )
    sys.exit(INTERNAL_ERROR_EXIT_CODE)
