"""``tracefix serve``, ``tracefix worker``, ``tracefix db upgrade`` and ``tracefix project``:
the server's commands. Settings come from ``TRACEFIX_*`` variables (``server.config``)."""

from __future__ import annotations

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
    return ServerConfig.from_env().prepared()


def _database(config: Any) -> Any:
    from tracefix.server.db import Database
    from tracefix.server.db import ensure_parent

    ensure_parent(config.database_url)
    return Database(config.database_url)


@click.command()
@click.option("--bind", default=None, help="HOST:PORT to listen on [TRACEFIX_BIND].")
@click.option("--threads", type=int, default=None, help="Request threads [TRACEFIX_THREADS].")
def serve(bind: str | None, threads: int | None) -> None:
    """Run the server: ingest, dashboard and, without a broker, the jobs."""
    from dataclasses import replace

    config = _config()
    config = replace(config, bind=bind or config.bind, threads=threads or config.threads)
    if bind and "TRACEFIX_PUBLIC_URL" not in __import__("os").environ:
        config = replace(config, public_url=f"http://{bind}")
    db = _database(config)
    db.upgrade()
    db.dispose()
    from tracefix.server.wsgi import serve_forever

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

    database = _database(_config())
    database.upgrade()
    click.echo(f"tracefix: database at revision {current_revision(database.engine)}")


@click.group()
def project() -> None:
    """Projects: each has a DSN and a repository its fixes go to."""


@project.command("create")
@click.argument("name")
@click.option("--repo", default=None, help="The repository: a local path or a git URL.")
@click.option("--python", default=None, help="The interpreter to verify fixes with.")
def project_create(name: str, repo: str | None, python: str | None) -> None:
    """Create a project and print its DSN."""
    from tracefix.server.projects import ProjectError
    from tracefix.server.projects import create_project
    from tracefix.server.projects import dsn

    config = _config()
    database = _database(config)
    database.upgrade()
    if repo and "://" not in repo and not repo.startswith("git@"):
        local = Path(repo).expanduser()
        if not local.is_dir():
            raise click.ClickException(f"no directory {repo}")
        repo = str(local.resolve())
    try:
        with database.write_session() as session:
            created = create_project(session, name, repo, {"python": python} if python else None)
            click.echo(dsn(config.public_url, created))
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None


def register(main: click.Group) -> None:
    from tracefix.cli.people import register as register_people

    for command in (serve, worker, db, project):
        main.add_command(command)
    register_people(main)
