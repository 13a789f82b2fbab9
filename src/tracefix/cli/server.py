"""``tracefix serve``, ``tracefix worker``, ``tracefix db upgrade`` and ``tracefix project``:
the server's commands. Settings come from ``TRACEFIX_*`` variables (``server.config``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click


def _config() -> Any:
    try:
        from tracefix.server.config import ServerConfig
    except ImportError as exc:
        raise click.ClickException(
            f"the server needs its dependencies ({exc.name} is missing): "
            "pip install 'tracefix[server]'"
        ) from None
    try:
        config = ServerConfig.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return config.prepared()
    except OSError as exc:
        raise click.ClickException(
            f"cannot use the data directory {config.data_dir} (TRACEFIX_DATA_DIR): "
            f"{exc.strerror or exc}"
        ) from None


@contextmanager
def _database_errors(config: Any) -> Iterator[None]:
    """A database that cannot be used (no driver, not a URL, not reachable) as one line."""
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except (ArgumentError, ImportError, OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"cannot use the database {_shown(config)}: {reason}") from None


def _shown(config: Any) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(config.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(config.database_url)


def _database(config: Any) -> Any:
    from tracefix.server.db import Database
    from tracefix.server.db import ensure_parent

    with _database_errors(config):
        ensure_parent(config.database_url)
        return Database(config.database_url)


def _migrated_database(config: Any) -> Any:
    database = _database(config)
    with _database_errors(config):
        database.upgrade()
    return database


@click.command()
@click.option("--bind", default=None, help="HOST:PORT to listen on [TRACEFIX_BIND].")
@click.option(
    "--threads",
    type=click.IntRange(1, 512),
    default=None,
    help="Request threads [TRACEFIX_THREADS].",
)
def serve(bind: str | None, threads: int | None) -> None:
    """Run the server: ingest, dashboard and, without a broker, the jobs."""
    from dataclasses import replace

    config = _config()
    config = replace(config, bind=bind or config.bind, threads=threads or config.threads)
    try:
        host, port = config.address
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bind / TRACEFIX_BIND") from None
    if bind and "TRACEFIX_PUBLIC_URL" not in __import__("os").environ:
        config = replace(config, public_url=f"http://{bind}")
    _migrated_database(config).dispose()
    from tracefix.server.wsgi import check_listenable
    from tracefix.server.wsgi import serve_forever

    try:
        check_listenable(host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {config.bind}: {exc.strerror or exc}"
        ) from None
    click.echo(f"tracefix: serving on http://{config.bind} (data in {config.data_dir})", err=True)
    serve_forever(config)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for the server's jobs (needs TRACEFIX_BROKER_URL)."""
    config = _config()
    if not config.broker_url:
        raise click.ClickException(
            "TRACEFIX_BROKER_URL is not set: the server runs its jobs itself"
        )
    from tracefix.server.tasks import celery_app
    from tracefix.server.tasks import worker_argv

    celery_app(config).worker_main(worker_argv(celery_args))


@click.group()
def db() -> None:
    """The server's database."""


@db.command()
def upgrade() -> None:
    """Apply the schema migrations."""
    from tracefix.server.db import current_revision

    database = _migrated_database(_config())
    click.echo(f"tracefix: database at revision {current_revision(database.engine)}")


@click.group()
def project() -> None:
    """Projects: each has a DSN and a repository its fixes go to."""


def _settings_options(command: Any) -> Any:
    """The options of the settings the fix pipeline reads (``server.projects.SETTINGS``)."""
    options = [
        click.option("--python", default=None, help="The interpreter to verify fixes with."),
        click.option(
            "--test-command",
            default=None,
            help="The project's tests, as a command line (default: pytest when it has tests).",
        ),
        click.option(
            "--tests/--no-tests", "run_tests", default=None, help="Run the tests to verify."
        ),
        click.option("--remote", default=None, help="Where to push fix branches [--repo]."),
        click.option(
            "--forge",
            type=click.Choice(["github", "gitlab", "gitea"]),
            default=None,
            help="Open a pull request there for each verified fix.",
        ),
        click.option(
            "--forge-url", default=None, help="The repository on the forge, if not --remote."
        ),
        click.option("--forge-api-url", default=None, help="A self-hosted forge's API URL."),
        click.option(
            "--token-env",
            default=None,
            help="The server's variable holding the forge token [TRACEFIX_FORGE_TOKEN].",
        ),
        click.option(
            "--events-per-minute", type=click.IntRange(min=1), default=None, help="A quota."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings_given(values: dict[str, Any]) -> dict[str, Any]:
    import shlex

    given = {k: v for k, v in values.items() if k != "events_per_minute" and v is not None}
    if "test_command" in given:
        try:
            given["test_command"] = shlex.split(given["test_command"])
        except ValueError as exc:
            raise click.ClickException(f"--test-command: {exc}") from None
    return given


def _repository(repo: str | None) -> str | None:
    if repo and "://" not in repo and not repo.startswith("git@"):
        local = Path(repo).expanduser()
        if not local.is_dir():
            raise click.ClickException(f"no directory {repo}")
        return str(local.resolve())
    return repo


@project.command("create")
@click.argument("name")
@click.option("--repo", default=None, help="The repository: a local path or a git URL.")
@_settings_options
def project_create(name: str, repo: str | None, **values: Any) -> None:
    """Create a project and print its DSN."""
    from tracefix.server.projects import ProjectError
    from tracefix.server.projects import create_project
    from tracefix.server.projects import dsn

    config = _config()
    database = _migrated_database(config)
    try:
        with database.write_session() as session:
            created = create_project(session, name, _repository(repo), _settings_given(values))
            created.events_per_minute = values["events_per_minute"]
            click.echo(dsn(config.public_url, created))
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None


@project.command("set")
@click.argument("name")
@click.option("--repo", default=None, help="The repository: a local path or a git URL.")
@_settings_options
@click.option("--unset", "unset", multiple=True, metavar="SETTING", help="Remove a setting.")
def project_set(name: str, repo: str | None, unset: tuple[str, ...], **values: Any) -> None:
    """Change a project's repository or settings, and print them."""
    from tracefix.server.projects import ProjectError
    from tracefix.server.projects import change_settings
    from tracefix.server.projects import find_project

    config = _config()
    database = _migrated_database(config)
    try:
        with database.write_session() as session:
            found = find_project(session, name)
            if repo is not None:
                found.repo = _repository(repo)
            if values["events_per_minute"] is not None:
                found.events_per_minute = values["events_per_minute"]
            change_settings(found, _settings_given(values), unset)
            _describe(config, found)
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None


@project.command("show")
@click.argument("name")
def project_show(name: str) -> None:
    """Print a project's DSN, repository and settings."""
    from tracefix.server.projects import ProjectError
    from tracefix.server.projects import find_project

    config = _config()
    database = _migrated_database(config)
    try:
        with database.session() as session:
            _describe(config, find_project(session, name))
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None


def _describe(config: Any, found: Any) -> None:
    import json

    from tracefix.server.projects import dsn

    click.echo(f"dsn: {dsn(config.public_url, found)}")
    click.echo(f"repo: {found.repo or '-'}")
    if found.events_per_minute:
        click.echo(f"events_per_minute: {found.events_per_minute}")
    for key, value in sorted((found.settings or {}).items()):
        click.echo(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")


def register(main: click.Group) -> None:
    from tracefix.cli.people import register as register_people

    for command in (serve, worker, db, project):
        main.add_command(command)
    register_people(main)
